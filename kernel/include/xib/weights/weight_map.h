// Weight maps as data: a declarative table from upstream tensor names (with {i}/{j}/{m}
// placeholders) to our parameter names, with one transform per entry, deliberate skips and
// destinations allowed to start fresh. Torch-free: planning needs names, shapes and dtypes only.
//
//   WeightMap map = maps::lavis_qformer({.cross_attention_freq = 2});      // the table (data)
//   ExpandedMap em = expand(map, {.layers = 12, .vars = {{"m", "image"}}});  // concrete names
//   WeightPlan p = plan(em, source_tensors(src.tensors()), expected, {.strict = true});
//   p.raise_if_failed();                                        // WeightMapError: every problem
//   apply_plan(p, src.tensors(), params);                       // xib/weights/weight_loader.h
//
// Pattern syntax: "{i}" (layer index), "{j}" (inner index), "{layers}" (the layer count) and
// any "{name}" given in ExpandOptions::vars. Skip and allow-missing patterns are globs after
// expansion: '*' matches any run of characters (dots included).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xib/error.h"
#include "xib/io/tensor_record.h"

namespace xib::weights {

/// A source name standing for zeros shaped like the entry's first real source (EVA's qkv bias
/// is [q_bias, zeros, v_bias]).
inline constexpr std::string_view kZeros = "<zeros>";

/// What to do with an entry's source tensor(s) to get our parameter.
struct Transform {
  enum class Kind { identity, transpose, reshape, split, concat, grow };
  Kind kind = Kind::identity;
  std::vector<int64_t> shape = {};  ///< reshape: target shape (one -1 allowed)
  int64_t dim = 0;                  ///< split, concat: the dimension
  int64_t part = 0;                 ///< split: which part (0-based) …
  int64_t parts = 1;                ///< … of how many equal parts
  int64_t size = 0;                 ///< grow: the size along `dim` after growing

  static Transform identity() { return {}; }
  /** [a, b] → [b, a] */
  static Transform transpose() { return {.kind = Kind::transpose}; }
  static Transform reshape(std::vector<int64_t> to) { return {.kind = Kind::reshape, .shape = std::move(to)}; }
  /** [.., n, ..] → [.., n / parts, ..]: part `part` along `dim` (fused qkv → q, k, v) */
  static Transform split(int64_t dim, int64_t part, int64_t parts) {
    return {.kind = Kind::split, .dim = dim, .part = part, .parts = parts};
  }
  /** several sources (kZeros allowed) concatenated along `dim` */
  static Transform concat(int64_t dim) { return {.kind = Kind::concat, .dim = dim}; }
  /** [.., n, ..] → [.., size, ..], n ≤ size: the source fills the first n entries along `dim`, the
      rest keep the parameter's initialisation (reported as a plan warning). A vocabulary that
      gained a token ([DEC]) loads from one without it. */
  static Transform grow(int64_t dim, int64_t size) { return {.kind = Kind::grow, .dim = dim, .size = size}; }

  /// "identity", "transpose", "reshape [2, 3]", "split 1/3 along 0", "concat along 0", "grow dim 0 to 30523".
  std::string describe() const;
};

/// One row of the table: upstream name(s) → one of our parameters.
struct Entry {
  std::vector<std::string> from = {};  ///< upstream patterns; several only with concat
  std::string to = {};                 ///< our parameter's pattern
  Transform transform = {};
  int64_t layer_step = 1;  ///< {i} takes 0, step, 2·step, … < layers (cross-attention: freq)
  int64_t inner = 0;       ///< {j} takes 0 … inner-1; required when a pattern uses {j}
};

/// A glob with the reason it is there (shown in plans and errors).
struct Rule {
  std::string pattern = {};
  std::string reason = {};
};

struct WeightMap {
  std::string name = {};  ///< "lavis x-instructblip q-former"
  std::vector<Entry> entries = {};
  std::vector<Rule> skips = {};          ///< upstream names deliberately ignored (beat entries)
  std::vector<Rule> allow_missing = {};  ///< our parameters that may start fresh
};

struct ExpandOptions {
  int64_t layers = 0;
  std::map<std::string, std::string> vars = {};  ///< {"m", "image"} fills "{m}"
};

/// An entry with concrete names.
struct ExpandedEntry {
  std::vector<std::string> from = {};
  std::string to = {};
  Transform transform = {};
};

struct ExpandedMap {
  std::string name = {};
  std::vector<ExpandedEntry> entries = {};
  std::vector<Rule> skips = {};
  std::vector<Rule> allow_missing = {};
};

/// Fills the placeholders. ConfigError for an unknown placeholder (listing the known ones), an
/// entry whose sources do not fit its transform, or two entries writing the same parameter.
ExpandedMap expand(const WeightMap& map, const ExpandOptions& options);

/// Substitutes "{name}" placeholders in one pattern (ConfigError for unknown ones).
std::string substitute(std::string_view pattern, const std::map<std::string, std::string>& vars);
/// Glob match: '*' any run of characters, '?' one character.
bool glob_match(std::string_view pattern, std::string_view name);

/// A tensor the source provides.
struct SourceTensor {
  std::string name = {};
  std::vector<int64_t> shape = {};
  io::DType dtype = io::DType::f32;
};
/// A parameter we expect to fill.
struct DestParam {
  std::string name = {};
  std::vector<int64_t> shape = {};
  io::DType dtype = io::DType::f32;
};

std::vector<SourceTensor> source_tensors(const std::vector<io::TensorRecord>& records);

struct PlanOptions {
  bool strict = true;                   ///< unexpected source tensors are errors (else warnings)
  std::string strip_prefix = {};        ///< dotted prefix removed from source names ("module"); names
                                        ///< without it are unexpected
  std::string source_label = "source";  ///< names the checkpoint in messages
};

/// One parameter to fill, fully checked.
struct Assignment {
  std::string to = {};
  std::vector<std::string> from = {};  ///< as stored in the source (prefix kept); kZeros allowed
  Transform transform = {};
  std::vector<int64_t> shape = {};   ///< after the transform (= the destination's)
  io::DType dtype = io::DType::f32;  ///< the destination's
};

struct Missing {
  std::string name = {};  ///< our parameter
  std::string why = {};   ///< "no entry produces it", "needs 'x', absent from the source"
};
struct Misshaped {
  std::string to = {};
  std::string from = {};
  std::vector<int64_t> expected = {};
  std::vector<int64_t> got = {};  ///< after the transform (empty when the transform failed)
  std::string note = {};          ///< the transform, or why it could not be applied
};
struct DTypeProblem {
  std::string to = {};
  std::string from = {};
  io::DType expected = io::DType::f32;
  io::DType got = io::DType::f32;
};
struct Noted {
  std::string name = {};
  std::string reason = {};
};

/// Everything found at once. Informational lists (skipped, fresh, warnings) never fail a plan.
struct WeightPlan {
  std::string map_name = {};
  std::string source_label = {};
  bool strict = true;
  std::vector<Assignment> assignments = {};
  std::vector<Missing> missing = {};
  std::vector<std::string> unexpected = {};  ///< source names no entry or skip consumes
  std::vector<Misshaped> misshaped = {};
  std::vector<DTypeProblem> dtype_problems = {};
  std::vector<Noted> skipped = {};  ///< source tensors a skip rule ignored
  std::vector<Noted> fresh = {};    ///< our parameters left to their initialisation, and why
  std::vector<std::string> warnings = {};
  std::string hint = {};

  /// No missing, mis-shaped or dtype problems, and (when strict) nothing unexpected.
  bool ok() const;
  /// "12 loaded, 3 fresh, 5 skipped, 0 missing, …" (one line).
  std::string summary() const;
  /// WeightMapError listing counts and examples of every failing category.
  void raise_if_failed(size_t max_examples = 5) const;
};

WeightPlan plan(const ExpandedMap& map, const std::vector<SourceTensor>& source, const std::vector<DestParam>& expected,
                const PlanOptions& options = {});

/// "[1, 32, 768]"
std::string shape_str(const std::vector<int64_t>& shape);

/// A checkpoint does not fit the model. Carries the plan that failed.
class WeightMapError : public ShapeError {
 public:
  WeightMapError(ErrorInfo info, std::shared_ptr<const WeightPlan> plan)
      : ShapeError(std::move(info)), plan_(std::move(plan)) {}
  const char* kind() const noexcept override { return "WeightMapError"; }
  const WeightPlan& plan() const { return *plan_; }

 private:
  std::shared_ptr<const WeightPlan> plan_;
};

}  // namespace xib::weights
