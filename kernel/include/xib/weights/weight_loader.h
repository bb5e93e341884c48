// Applying a weight plan: TensorRecords → at::Tensor (dtype converted, transforms applied) →
// copied into our parameters. The kernel's one LibTorch translation unit for weights; this
// header stays torch-free (tensors are declared in xib/tensor.h).
//
//   auto p = plan(expand(map, {.layers = 12}), source_tensors(src.tensors()), dest_spec(params));
//   LoadReport r = apply_plan(p, src.tensors(), params);   // throws WeightMapError if !p.ok()
#pragma once

#include <map>
#include <string>
#include <vector>

#include "xib/io/tensor_record.h"
#include "xib/tensor.h"
#include "xib/weights/weight_map.h"

namespace xib::weights {

/// Our parameters' names, shapes and dtypes, for plan().
std::vector<DestParam> dest_spec(const std::map<std::string, Tensor>& params);

/// An owning copy of a record's elements (strides and storage offset honoured), converted to
/// `to` when given (f16/bf16 → f32 upcast). FormatError when the view reaches past the record's
/// bytes or has negative strides.
Tensor record_to_tensor(const io::TensorRecord& record);
Tensor record_to_tensor(const io::TensorRecord& record, io::DType to);

struct LoadReport {
  size_t loaded = 0;                       ///< parameters written
  std::vector<std::string> fresh = {};     ///< parameters left as initialised (from the plan)
  std::vector<std::string> warnings = {};  ///< the plan's warnings
};

/// Writes every assignment of `plan` into `params` (same device and dtype as each parameter,
/// without recording gradients). The plan must be ok() (WeightMapError otherwise); shapes are
/// checked again against the tensors (ShapeError); a source named by the plan but absent from
/// `records` is a NotFoundError.
LoadReport apply_plan(const WeightPlan& plan, const std::vector<io::TensorRecord>& records,
                      std::map<std::string, Tensor>& params);

/// plan() + raise_if_failed() + apply_plan() in one call.
LoadReport load_weights(const ExpandedMap& map, const std::vector<io::TensorRecord>& records,
                        std::map<std::string, Tensor>& params, const PlanOptions& options = {});

}  // namespace xib::weights
