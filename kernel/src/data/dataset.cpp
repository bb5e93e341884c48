// create_dataset (a recipe section's `reader:` picks the registered Dataset factory), the
// `data:` section's checks, and a DataStream built from it.
#include "xib/dataset.h"

#include <fmt/format.h>

#include "xib/registry.h"

namespace xib {

std::shared_ptr<Dataset> create_dataset(const ConfigSection& section) {
  const std::vector<std::string> known = Registry::global().names<Dataset>();
  const std::string known_text =
      known.empty() ? "(none registered: is the datasets plugin loaded? see `xib plugins`)" : join_names(known);
  if (!section.present() || !section.node.IsMap()) {
    throw ConfigError(ErrorInfo{.what = "a dataset section must be a mapping with a reader: key",
                                .where = section.where(),
                                .expected = "{reader: …, path: …}",
                                .got = section.present() ? yaml_text(section.node) : "nothing",
                                .hint = "readers: " + known_text});
  }
  const ConfigSection r = section.child("reader");
  if (!r.present()) {
    throw ConfigError(ErrorInfo{.what = "dataset section without a reader: key",
                                .where = section.where(),
                                .expected = "reader: one of " + known_text,
                                .got = "no reader key"});
  }
  std::string reader;
  config_detail::from_yaml(r, reader);
  if (!Registry::global().contains<Dataset>(reader)) {
    ErrorInfo info{.what = fmt::format("unknown dataset reader '{}'", reader),
                   .where = section.where("reader"),
                   .expected = "one of: " + known_text,
                   .got = reader};
    if (auto near = nearest_name(reader, known)) info.hint = "did you mean '" + *near + "'?";
    throw NotFoundError(std::move(info));
  }
  return Registry::global().create<Dataset>(reader, {.options = section});
}

void DataOptions::validate(Validator& v) const {
  v.require(!train.empty(), "train", "at least one dataset section", "an empty list");
  stream.validate(v);
}

DataStream make_data_stream(const DataOptions& options) {
  std::vector<std::shared_ptr<const Dataset>> datasets;
  for (const ConfigSection& s : options.train) datasets.push_back(create_dataset(s));
  return DataStream(std::move(datasets), options.stream);
}

}  // namespace xib
