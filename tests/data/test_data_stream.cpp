// DataStream: determinism, exact resume, √-size mixing, per-dataset epoch reshuffles and batch
// composition, over in-test fake datasets.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "fake_datasets.h"
#include "xib/dataset.h"

using namespace xib;
using xib::test::fake_datasets;
using xib::test::index_of;

namespace {

DataStreamOptions opts(int64_t batch, int64_t seed = 7, std::string mixing = "sqrt", bool shuffle = true) {
  DataStreamOptions o;
  o.batch_size = batch;
  o.seed = seed;
  o.mixing = std::move(mixing);
  o.shuffle = shuffle;
  return o;
}

// A batch as "id/answer" strings: the order and the per-sample generator draws.
std::vector<std::string> keys(const std::vector<Sample>& batch) {
  std::vector<std::string> out;
  for (const Sample& s : batch) out.push_back(s.id + "/" + s.answer);
  return out;
}

std::vector<std::vector<std::string>> take(DataStream& s, int n) {
  std::vector<std::vector<std::string>> out;
  for (int i = 0; i < n; ++i) out.push_back(keys(s.next_batch()));
  return out;
}

}  // namespace

TEST_CASE("mixing weights: sqrt, size and uniform") {
  const std::vector<size_t> sizes = {100, 400, 1600};
  const auto sq = mixing_weights(sizes, "sqrt");  // √: 10, 20, 40
  CHECK(sq[0] == doctest::Approx(1.0 / 7));
  CHECK(sq[1] == doctest::Approx(2.0 / 7));
  CHECK(sq[2] == doctest::Approx(4.0 / 7));
  const auto sz = mixing_weights(sizes, "size");
  CHECK(sz[0] == doctest::Approx(100.0 / 2100));
  CHECK(sz[2] == doctest::Approx(1600.0 / 2100));
  const auto un = mixing_weights(sizes, "uniform");
  for (double w : un) CHECK(w == doctest::Approx(1.0 / 3));
  CHECK_THROWS_AS(mixing_weights(sizes, "sqr"), UsageError);
  const std::vector<size_t> with_empty = {3, 0};
  CHECK_THROWS_AS(mixing_weights(with_empty, "sqrt"), UsageError);
}

TEST_CASE("the same seed gives the same batches, another seed other batches") {
  DataStream a(fake_datasets({13, 50, 7}), opts(4, 11));
  DataStream b(fake_datasets({13, 50, 7}), opts(4, 11));
  DataStream c(fake_datasets({13, 50, 7}), opts(4, 12));
  const auto ta = take(a, 80);
  CHECK(ta == take(b, 80));
  CHECK(ta != take(c, 80));
  CHECK(a.batches() == 80);
}

TEST_CASE("restore after k batches then continue equals the uninterrupted stream") {
  for (int k : {0, 1, 17, 37}) {
    CAPTURE(k);
    DataStream whole(fake_datasets({9, 31, 5}), opts(3, 5));
    const auto first = take(whole, k);
    // Through text, as a checkpoint would store it.
    const nlohmann::json state = nlohmann::json::parse(whole.state().dump());
    const auto rest = take(whole, 60);

    DataStream resumed(fake_datasets({9, 31, 5}), opts(3, 5));
    take(resumed, 3);  // some other position first: restore must replace it entirely
    resumed.restore(state);
    CHECK(resumed.batches() == k);
    CHECK(take(resumed, 60) == rest);
    CHECK(resumed.epochs() == whole.epochs());
  }
}

TEST_CASE("restoring an earlier state rewinds the stream") {
  DataStream s(fake_datasets({6, 10}), opts(4, 3));
  take(s, 5);
  const nlohmann::json at5 = s.state();
  const auto next = take(s, 20);
  s.restore(at5);
  CHECK(take(s, 20) == next);
}

TEST_CASE("datasets are drawn with probability proportional to the square root of their size") {
  // 20000 draws; σ of a frequency is at most √(0.25/20000) ≈ 0.0035, the tolerance 0.015 is > 4σ,
  // while size-proportional (1/21, 4/21, 16/21) and uniform (1/3) are each ≥ 0.09 away.
  DataStream s(fake_datasets({100, 400, 1600}), opts(1, 42));
  const int n = 20000;
  std::map<std::string, int> count;
  for (int i = 0; i < n; ++i) ++count[s.next_batch()[0].dataset];
  const double expect[3] = {1.0 / 7, 2.0 / 7, 4.0 / 7};
  for (int d = 0; d < 3; ++d) {
    const double f = static_cast<double>(count["d" + std::to_string(d)]) / n;
    CAPTURE(d);
    CAPTURE(f);
    CHECK(std::abs(f - expect[d]) < 0.015);
  }
  CHECK(s.weights()[2] == doctest::Approx(4.0 / 7));
}

TEST_CASE("size and uniform mixing draw with their own probabilities") {
  const int n = 20000;
  for (const std::string rule : {"size", "uniform"}) {
    CAPTURE(rule);
    DataStream s(fake_datasets({100, 400, 1600}), opts(1, 1, rule));
    int big = 0;
    for (int i = 0; i < n; ++i) big += s.next_batch()[0].dataset == "d2";
    const double expect = rule == "size" ? 16.0 / 21 : 1.0 / 3;
    CHECK(std::abs(static_cast<double>(big) / n - expect) < 0.015);
  }
}

TEST_CASE("every batch holds batch_size samples of one dataset, labelled with its name") {
  DataStream s(fake_datasets({5, 8, 3}), opts(4, 9));
  std::set<std::string> seen;
  for (int b = 0; b < 200; ++b) {
    const auto batch = s.next_batch();
    REQUIRE(batch.size() == 4);
    for (const Sample& x : batch) {
      CHECK(x.dataset == batch[0].dataset);
      CHECK(x.id.rfind(x.dataset + ":", 0) == 0);
    }
    seen.insert(batch[0].dataset);
  }
  CHECK(seen == std::set<std::string>{"d0", "d1", "d2"});
}

TEST_CASE("each epoch visits every sample once and the next epoch is reshuffled") {
  // One dataset of 7, batches of 5: epochs end inside batches, and each run of 7 draws must be a
  // permutation of 0..6.
  DataStream s(fake_datasets({7}), opts(5, 21));
  std::vector<size_t> draws;
  for (int b = 0; b < 14; ++b) {
    for (const Sample& x : s.next_batch()) draws.push_back(index_of(x));
  }
  REQUIRE(draws.size() == 70);
  std::vector<std::vector<size_t>> epochs;
  for (size_t e = 0; e < 10; ++e) {
    std::vector<size_t> order(draws.begin() + static_cast<long>(e * 7), draws.begin() + static_cast<long>(e * 7 + 7));
    std::vector<size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<size_t>{0, 1, 2, 3, 4, 5, 6});
    epochs.push_back(order);
  }
  CHECK(s.epochs() == std::vector<int64_t>{10});
  // Reshuffled: the ten epoch orders are not all the same (and not all file order).
  CHECK(std::set<std::vector<size_t>>(epochs.begin(), epochs.end()).size() > 5);
}

TEST_CASE("epoch counters are per dataset") {
  DataStream s(fake_datasets({4, 1000}), opts(2, 8, "uniform"));
  std::map<std::string, int64_t> drawn;
  for (int b = 0; b < 100; ++b) drawn[s.next_batch()[0].dataset] += 2;
  const auto e = s.epochs();
  CHECK(e[0] == drawn["d0"] / 4);
  CHECK(e[1] == drawn["d1"] / 1000);
  CHECK(e[0] > 5);
}

TEST_CASE("shuffle false walks every epoch in file order") {
  DataStream s(fake_datasets({6}), opts(4, 2, "sqrt", false));
  std::vector<size_t> draws;
  for (int b = 0; b < 3; ++b) {
    for (const Sample& x : s.next_batch()) draws.push_back(index_of(x));
  }
  CHECK(draws == std::vector<size_t>{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5});
}

TEST_CASE("the per-sample generator differs between samples and repeats with the position") {
  DataStream s(fake_datasets({50}), opts(8, 4));
  const auto batch = s.next_batch();
  std::set<std::string> answers;
  for (const Sample& x : batch) answers.insert(x.answer);
  CHECK(answers.size() == batch.size());
}

TEST_CASE("two ranks: each global step's shards are disjoint and together the one-process batch at 2B") {
  // Sizes that are multiples of the global batch: no batch straddles two epochs of a dataset, so
  // no sample can come twice in one global step. (A straddling batch is still the one-process
  // batch split in two: the case below with other sizes.)
  const auto datasets = fake_datasets({12, 30, 6});
  auto shard = [&](int64_t rank) {
    DataStreamOptions o = opts(3, 5);
    o.rank = rank;
    o.world_size = 2;
    return DataStream(datasets, o);
  };
  DataStream r0 = shard(0), r1 = shard(1), one(datasets, opts(6, 5));
  for (int step = 0; step < 60; ++step) {
    CAPTURE(step);
    const auto a = keys(r0.next_batch()), b = keys(r1.next_batch()), whole = keys(one.next_batch());
    REQUIRE(a.size() == 3);
    REQUIRE(b.size() == 3);
    std::vector<std::string> joined = a;
    joined.insert(joined.end(), b.begin(), b.end());
    CHECK(joined == whole);  // rank 0 the first half, rank 1 the second, same per-sample draws
    std::set<std::string> ids_a, ids_b;
    for (const auto& k : a) ids_a.insert(k.substr(0, k.find('/')));
    for (const auto& k : b) ids_b.insert(k.substr(0, k.find('/')));
    for (const auto& id : ids_a) CHECK(ids_b.count(id) == 0);
    // Positions count global samples: every rank's state is the one-process state.
    CHECK(r0.state() == one.state());
    CHECK(r1.state() == one.state());
  }
}

TEST_CASE("two ranks: with batches that straddle epochs, the shards are still the halves of the one-process batch") {
  const auto datasets = fake_datasets({5, 7});
  DataStreamOptions a = opts(3, 2), b = opts(3, 2);
  a.world_size = b.world_size = 2;
  b.rank = 1;
  DataStream r0(datasets, a), r1(datasets, b), one(datasets, opts(6, 2));
  for (int step = 0; step < 30; ++step) {
    auto joined = keys(r0.next_batch());
    const auto second = keys(r1.next_batch());
    joined.insert(joined.end(), second.begin(), second.end());
    CHECK(joined == keys(one.next_batch()));
  }
}

TEST_CASE("two ranks resume at any step: a restored shard continues as the uninterrupted one") {
  const auto datasets = fake_datasets({7, 13});
  auto shard = [&](int64_t rank) {
    DataStreamOptions o = opts(2, 9);
    o.rank = rank;
    o.world_size = 2;
    return DataStream(datasets, o);
  };
  for (int at : {0, 1, 5, 12}) {
    CAPTURE(at);
    for (int64_t rank : {0, 1}) {
      DataStream full = shard(rank);
      take(full, at);
      const nlohmann::json state = full.state();
      const auto rest = take(full, 10);
      DataStream resumed = shard(rank);
      resumed.restore(state);
      CHECK(take(resumed, 10) == rest);
    }
  }
  // A state of one process at the global batch resumes a shard, and the other way round.
  DataStream one(datasets, opts(4, 9));
  take(one, 3);
  DataStream r1 = shard(1);
  r1.restore(one.state());
  const auto from_shard = take(r1, 4);
  std::vector<std::vector<std::string>> second_halves;
  for (const auto& batch : take(one, 4)) second_halves.emplace_back(batch.begin() + 2, batch.end());
  CHECK(from_shard == second_halves);
  // Another global batch size is refused, naming it.
  DataStream other(datasets, opts(3, 9));
  CHECK_THROWS_AS(other.restore(r1.state()), UsageError);
}

TEST_CASE("a rank outside the world is refused") {
  DataStreamOptions o = opts(2);
  o.world_size = 2;
  o.rank = 2;
  CHECK_THROWS_AS(DataStream(fake_datasets({4}), o), UsageError);
  o.rank = -1;
  CHECK_THROWS_AS(DataStream(fake_datasets({4}), o), UsageError);
  o.rank = 0;
  o.world_size = 0;
  CHECK_THROWS_AS(DataStream(fake_datasets({4}), o), UsageError);
}
