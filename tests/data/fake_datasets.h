// In-test datasets for the DataStream tests: sample i of "name" has id "name:i", and its answer
// records one draw of the per-sample generator, so tests see both the order and the rng.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "xib/dataset.h"

namespace xib::test {

class FakeDataset : public Dataset {
 public:
  FakeDataset(std::string name, size_t size) : name_(std::move(name)), size_(size) {}
  std::string name() const override { return name_; }
  size_t size() const override { return size_; }
  std::vector<std::string> modalities() const override { return {"image"}; }
  std::string task() const override { return "caption"; }
  Sample get(size_t index, Rng& rng) const override {
    if (index >= size_) throw Error(fmt::format("FakeDataset::get({}) past size {}", index, size_));
    Sample s;
    s.id = fmt::format("{}:{}", name_, index);
    s.task = "caption";
    s.answer = std::to_string(rng.next());
    return s;
  }

 private:
  std::string name_;
  size_t size_;
};

/// Datasets "d0", "d1", … with the given sizes.
inline std::vector<std::shared_ptr<const Dataset>> fake_datasets(const std::vector<size_t>& sizes) {
  std::vector<std::shared_ptr<const Dataset>> out;
  for (size_t i = 0; i < sizes.size(); ++i)
    out.push_back(std::make_shared<FakeDataset>(fmt::format("d{}", i), sizes[i]));
  return out;
}

/// Index of sample id "dK:I" → I.
inline size_t index_of(const Sample& s) { return std::stoul(s.id.substr(s.id.find(':') + 1)); }

}  // namespace xib::test
