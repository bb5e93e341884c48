// Every refusal of the data side's kernel part: bad streams, bad or foreign states, bad `data:`
// sections, unknown readers.
#include <doctest/doctest.h>

#include "fake_datasets.h"
#include "xib/dataset.h"
#include "xib/registry.h"

using namespace xib;
using xib::test::fake_datasets;

namespace {

DataStreamOptions opts(int64_t batch = 2, int64_t seed = 1) {
  DataStreamOptions o;
  o.batch_size = batch;
  o.seed = seed;
  return o;
}

template <class E, class F>
std::string report_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.report();
  }
  FAIL("no error of the expected type");
  return {};
}

ConfigSection section(const std::string& yaml, const std::string& path = {}) {
  return ConfigSource::from_string(yaml, "recipe.yaml", "/tmp")->section(path);
}

// A reader registered once into the global registry, under a name no plugin uses.
void register_fake_reader() {
  static const bool done = [] {
    Registrations reg;
    reg.add<Dataset>("fake_test", [](const FactoryArgs& a) {
      const auto n = a.options.node["size"].as<size_t>();
      return std::make_unique<xib::test::FakeDataset>(a.options.node["name"].as<std::string>(), n);
    });
    Registry::global().commit(std::move(reg.entries()));
    return true;
  }();
  (void)done;
}

}  // namespace

TEST_CASE("a stream refuses no datasets, duplicates, empty or null datasets and a bad batch size") {
  CHECK(report_of<UsageError>([] { DataStream({}, opts()); }).find("at least one dataset") != std::string::npos);
  std::vector<std::shared_ptr<const Dataset>> dup = {std::make_shared<xib::test::FakeDataset>("a", 3),
                                                     std::make_shared<xib::test::FakeDataset>("a", 4)};
  CHECK(report_of<UsageError>([&] { DataStream(dup, opts()); }).find("both named 'a'") != std::string::npos);
  CHECK(report_of<UsageError>([] {
          DataStream(fake_datasets({3, 0}), opts());
        }).find("'d1' is empty") != std::string::npos);
  CHECK_THROWS_AS(DataStream({nullptr}, opts()), UsageError);
  CHECK_THROWS_AS(DataStream(fake_datasets({3}), opts(0)), UsageError);
  DataStreamOptions bad = opts();
  bad.mixing = "sqr";
  CHECK_THROWS_AS(DataStream(fake_datasets({3}), bad), UsageError);
}

TEST_CASE("a state of other datasets, sizes or options is refused, naming every difference") {
  DataStream a(fake_datasets({5, 9}), opts(2, 1));
  a.next_batch();
  const nlohmann::json st = a.state();

  DataStream sizes(fake_datasets({5, 10}), opts(2, 1));
  const std::string r = report_of<UsageError>([&] { sizes.restore(st); });
  CHECK(r.find("another stream") != std::string::npos);
  CHECK(r.find("dataset 1 ('d1') size: this stream 10, the state 9") != std::string::npos);

  DataStream count(fake_datasets({5}), opts(2, 1));
  CHECK(report_of<UsageError>([&] { count.restore(st); }).find("number of datasets: this stream 1, the state 2") !=
        std::string::npos);

  std::vector<std::shared_ptr<const Dataset>> renamed = {std::make_shared<xib::test::FakeDataset>("d0", 5),
                                                         std::make_shared<xib::test::FakeDataset>("other", 9)};
  DataStream names(renamed, opts(2, 1));
  CHECK(report_of<UsageError>([&] { names.restore(st); }).find("dataset 1 name: this stream other, the state d1") !=
        std::string::npos);

  DataStream seed_and_batch(fake_datasets({5, 9}), opts(3, 2));
  const std::string both = report_of<UsageError>([&] { seed_and_batch.restore(st); });
  CHECK(both.find("seed: this stream 2, the state 1") != std::string::npos);
  CHECK(both.find("batch_size: this stream 3, the state 2") != std::string::npos);
}

TEST_CASE("a malformed state is a FormatError and leaves the stream as it was") {
  DataStream s(fake_datasets({5, 9}), opts(2, 1));
  s.next_batch();
  const nlohmann::json good = s.state();
  DataStream twin(fake_datasets({5, 9}), opts(2, 1));
  twin.next_batch();

  auto broken = [&](auto edit) {
    nlohmann::json j = good;
    edit(j);
    return report_of<FormatError>([&] { s.restore(j); });
  };
  CHECK(broken([](nlohmann::json& j) { j.erase("batches"); }).find("missing key 'batches'") != std::string::npos);
  CHECK(broken([](nlohmann::json& j) { j["format"] = "something"; }).find("not a data stream state") !=
        std::string::npos);
  CHECK(broken([](nlohmann::json& j) { j["version"] = 99; }).find("unsupported version") != std::string::npos);
  CHECK(broken([](nlohmann::json& j) { j["batches"] = "three"; }).find("state.batches is not an integer") !=
        std::string::npos);
  CHECK(broken([](nlohmann::json& j) { j["batches"] = -1; }).find("out of range") != std::string::npos);
  CHECK(broken([](nlohmann::json& j) { j["datasets"] = 3; }).find("not a list") != std::string::npos);
  CHECK(broken([](nlohmann::json& j) { j["datasets"][1]["position"] = 9; }).find("past the end") != std::string::npos);
  CHECK(broken([](nlohmann::json& j) { j["shuffle"] = 1; }).find("not a boolean") != std::string::npos);
  CHECK(broken([](nlohmann::json& j) { j = nlohmann::json::array(); }).find("not an object") != std::string::npos);
  // Nothing changed: s continues exactly like its twin.
  for (int i = 0; i < 10; ++i) {
    const auto x = s.next_batch();
    const auto y = twin.next_batch();
    REQUIRE(x.size() == y.size());
    for (size_t k = 0; k < x.size(); ++k) CHECK(x[k].id == y[k].id);
  }
}

TEST_CASE("the data: section binds, and its bad values are ConfigErrors") {
  const auto ok =
      bind<DataOptions>(section("data:\n  train:\n    - {reader: x}\n  batch_size: 4\n  mixing: uniform\n", "data"));
  CHECK(ok.train.size() == 1);
  CHECK(ok.stream.batch_size == 4);
  CHECK(ok.stream.mixing == "uniform");
  CHECK(ok.stream.seed == 42);
  CHECK(ok.stream.shuffle);

  const std::string mixing =
      report_of<ConfigError>([] { bind<DataOptions>(section("train: [{reader: x}]\nmixing: sqr\n")); });
  CHECK(mixing.find("did you mean 'sqrt'") != std::string::npos);
  CHECK_THROWS_AS(bind<DataOptions>(section("train: [{reader: x}]\nbatch_size: 0\n")), ConfigError);
  CHECK(report_of<ConfigError>([] { bind<DataOptions>(section("train: []\n")); }).find("at least one dataset") !=
        std::string::npos);
  CHECK(report_of<ConfigError>([] {
          bind<DataOptions>(section("train: [{reader: x}]\nbatch: 4\n"));
        }).find("batch_size") != std::string::npos);
}

TEST_CASE("create_dataset picks the reader by name and lists the known ones otherwise") {
  register_fake_reader();
  const auto d = create_dataset(section("{reader: fake_test, name: tiny, size: 3}"));
  CHECK(d->name() == "tiny");
  CHECK(d->size() == 3);

  const std::string unknown = report_of<NotFoundError>([] { create_dataset(section("{reader: fake_tset}")); });
  CHECK(unknown.find("unknown dataset reader 'fake_tset'") != std::string::npos);
  CHECK(unknown.find("fake_test") != std::string::npos);
  CHECK(unknown.find("did you mean 'fake_test'") != std::string::npos);
  CHECK(unknown.find("recipe.yaml") != std::string::npos);

  CHECK(report_of<ConfigError>([] { create_dataset(section("{name: x}")); }).find("without a reader") !=
        std::string::npos);
  CHECK_THROWS_AS(create_dataset(section("[1, 2]")), ConfigError);
  CHECK_THROWS_AS(create_dataset(section("{reader: [a]}")), ConfigError);
}

TEST_CASE("make_data_stream builds every dataset of the data: section") {
  register_fake_reader();
  const auto o =
      bind<DataOptions>(section("train:\n  - {reader: fake_test, name: a, size: 4}\n  - {reader: fake_test, name: b, "
                                "size: 16}\nbatch_size: 2\n"));
  DataStream s = make_data_stream(o);
  REQUIRE(s.datasets().size() == 2);
  CHECK(s.weights()[0] == doctest::Approx(1.0 / 3));  // √4 : √16 = 2 : 4
  CHECK(s.next_batch().size() == 2);
}
