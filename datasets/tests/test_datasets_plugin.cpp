// The datasets plugin through the loader: create_dataset finds `caption` and `qa`, and a
// DataStream mixes them.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "dataset_test_support.h"
#include "xib/plugin_loader.h"

using namespace xib;
using xib::test::data_section;

namespace {
void load_plugin() {
  static const bool loaded = [] {
    PluginLoader::global().load_file(XIB_DATASETS_PLUGIN, /*throw_if_refused=*/true);
    return true;
  }();
  (void)loaded;
}
}  // namespace

TEST_CASE("the plugin registers the caption and qa readers") {
  load_plugin();
  const auto names = Registry::global().names<Dataset>();
  CHECK(std::set<std::string>(names.begin(), names.end()).count("caption") == 1);
  CHECK(std::set<std::string>(names.begin(), names.end()).count("qa") == 1);
  const auto d = create_dataset(data_section("{reader: qa, path: vqa_train.json}"));
  CHECK(d->size() == 3);
  CHECK(d->task() == "qa");
  const std::string r =
      xib::test::report_of<NotFoundError>([] { create_dataset(data_section("{reader: vqa, path: x.json}")); });
  CHECK(r.find("caption, qa") != std::string::npos);
}

TEST_CASE("a data: section over both readers streams batches of either") {
  load_plugin();
  const auto o =
      bind<DataOptions>(data_section("train:\n  - {reader: caption, path: caption_train.json, name: cap}\n"
                                     "  - {reader: qa, path: vqa_train.json, name: vqa}\nbatch_size: 3\nseed: 5\n"));
  DataStream s = make_data_stream(o);
  std::set<std::string> seen;
  for (int b = 0; b < 40; ++b) {
    const auto batch = s.next_batch();
    REQUIRE(batch.size() == 3);
    for (const Sample& x : batch) {
      CHECK(x.dataset == batch[0].dataset);
      CHECK(x.task == (x.dataset == "cap" ? "caption" : "qa"));
      CHECK(!x.instruction.empty());
      CHECK(!x.answer.empty());
    }
    seen.insert(batch[0].dataset);
  }
  CHECK(seen == std::set<std::string>{"cap", "vqa"});
  CHECK(s.weights()[0] == doctest::Approx(2.0 / (2.0 + std::sqrt(3.0))));
}
