// Applying weight plans with LibTorch: records → tensors → transforms → our parameters.
#include "xib/weights/weight_loader.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <unordered_map>

#include "torch_dtype.h"
#include "transform_shape.h"

namespace xib::weights {

namespace {

at::ScalarType scalar_type(io::DType t) {
  using D = io::DType;
  switch (t) {
    case D::f64:
      return at::kDouble;
    case D::f32:
      return at::kFloat;
    case D::f16:
      return at::kHalf;
    case D::bf16:
      return at::kBFloat16;
    case D::i64:
      return at::kLong;
    case D::i32:
      return at::kInt;
    case D::i16:
      return at::kShort;
    case D::i8:
      return at::kChar;
    case D::u8:
      return at::kByte;
    case D::boolean:
      return at::kBool;
  }
  throw Error("unknown dtype");
}

io::DType from_scalar_type(at::ScalarType t, const std::string& name) {
  if (auto d = dtype_of(t)) return *d;
  throw ShapeError(
      {.what = "parameter has a dtype weight maps do not handle", .where = name, .got = std::string(c10::toString(t))});
}

/** the planned transform applied to its inputs (zeros shaped like the first real input) */
at::Tensor apply_transform(const Transform& t, std::vector<at::Tensor> inputs) {
  using K = Transform::Kind;
  switch (t.kind) {
    case K::identity:
      return inputs.front();
    case K::transpose:
      return inputs.front().t();
    case K::reshape:
      return inputs.front().reshape(t.shape);
    case K::split: {
      const auto n = inputs.front().size(t.dim) / t.parts;
      return inputs.front().narrow(t.dim, t.part * n, n);
    }
    case K::concat:
      return at::cat(inputs, t.dim);
    case K::grow:
      return inputs.front();  // apply_plan writes it into the leading part of the parameter
  }
  throw Error("unknown transform");
}

}  // namespace

std::vector<DestParam> dest_spec(const std::map<std::string, at::Tensor>& params) {
  std::vector<DestParam> out;
  out.reserve(params.size());
  for (const auto& [name, t] : params) {
    out.push_back({.name = name, .shape = t.sizes().vec(), .dtype = from_scalar_type(t.scalar_type(), name)});
  }
  return out;
}

at::Tensor record_to_tensor(const io::TensorRecord& r) { return record_to_tensor(r, r.dtype); }

at::Tensor record_to_tensor(const io::TensorRecord& r, io::DType to) {
  auto strides = r.strides;
  if (strides.empty()) {
    strides.assign(r.shape.size(), 1);
    for (size_t k = r.shape.size(); k-- > 1;) strides[k - 1] = strides[k] * r.shape[k];
  }
  if (strides.size() != r.shape.size()) {
    throw FormatError({.what = "tensor record has strides of another rank than its shape",
                       .where = r.name,
                       .expected = std::to_string(r.shape.size()) + " strides",
                       .got = shape_str(strides)});
  }
  // The furthest element the view reaches must lie within the record's bytes.
  int64_t last = r.storage_offset;
  bool empty = false;
  for (size_t k = 0; k < r.shape.size(); ++k) {
    if (r.shape[k] < 0 || strides[k] < 0) {
      throw FormatError({.what = "tensor record with a negative size or stride",
                         .where = r.name,
                         .got = shape_str(r.shape) + " strides " + shape_str(strides)});
    }
    if (r.shape[k] == 0) empty = true;
    last += (r.shape[k] - 1) * strides[k];
  }
  const auto opts = at::TensorOptions().dtype(scalar_type(r.dtype));
  if (empty) return at::empty(r.shape, opts.dtype(scalar_type(to)));
  const auto elem = static_cast<int64_t>(io::dtype_size(r.dtype));
  if (r.storage_offset < 0 || r.data == nullptr || (last + 1) * elem > static_cast<int64_t>(r.storage_bytes)) {
    throw FormatError({.what = "tensor record reaches past its bytes",
                       .where = r.name,
                       .expected = fmt::format("at most {} bytes", r.storage_bytes),
                       .got = fmt::format("element {} of {} bytes", last, elem)});
  }
  // from_blob only views the bytes; the record's memory is read-only, so copy at once.
  auto* base = const_cast<std::byte*>(r.data) + r.storage_offset * elem;
  const at::Tensor view = at::from_blob(base, r.shape, strides, opts);
  return view.to(scalar_type(to), /*non_blocking=*/false, /*copy=*/true).contiguous();
}

LoadReport apply_plan(const WeightPlan& plan, const std::vector<io::TensorRecord>& records,
                      std::map<std::string, at::Tensor>& params) {
  plan.raise_if_failed();
  std::unordered_map<std::string_view, const io::TensorRecord*> by_name;
  for (const auto& r : records) by_name[r.name] = &r;

  LoadReport report;
  at::NoGradGuard no_grad;
  for (const auto& a : plan.assignments) {
    auto p = params.find(a.to);
    if (p == params.end()) {
      throw NotFoundError({.what = "planned parameter '" + a.to + "' is not among the parameters given",
                           .where = "weight map '" + plan.map_name + "'",
                           .hint = "plan with dest_spec() of the same parameters you load into"});
    }
    at::Tensor& dst = p->second;
    std::vector<at::Tensor> inputs;
    const io::TensorRecord* first = nullptr;
    for (const auto& f : a.from) {
      if (f == kZeros) continue;
      auto r = by_name.find(f);
      if (r == by_name.end()) {
        throw NotFoundError({.what = "tensor '" + f + "' named by the plan is not in the records",
                             .where = plan.source_label,
                             .hint = "apply a plan to the records it was made from"});
      }
      if (!first) first = r->second;
    }
    for (const auto& f : a.from) {
      if (f == kZeros) {
        inputs.push_back(at::zeros(first->shape, at::TensorOptions().dtype(scalar_type(a.dtype))));
      } else {
        inputs.push_back(record_to_tensor(*by_name[f], a.dtype));
      }
    }
    const at::Tensor value = apply_transform(a.transform, std::move(inputs));
    if (a.transform.kind == Transform::Kind::grow) {
      auto leading = dst.sizes().vec();
      const auto d = static_cast<size_t>(a.transform.dim);
      if (d < leading.size() && value.dim() == dst.dim() && value.size(a.transform.dim) <= dst.size(a.transform.dim)) {
        leading[d] = value.size(a.transform.dim);
      }
      if (value.sizes().vec() != leading) {
        throw ShapeError(
            {.what = "weight does not fit the leading part of its parameter after " + a.transform.describe(),
             .where = a.to + " (from " + join_names(a.from) + ")",
             .expected =
                 shape_str(dst.sizes().vec()) + " or fewer entries along dim " + std::to_string(a.transform.dim),
             .got = shape_str(value.sizes().vec())});
      }
      dst.narrow(a.transform.dim, 0, value.size(a.transform.dim)).copy_(value);
      ++report.loaded;
      continue;
    }
    if (value.sizes() != dst.sizes()) {
      throw ShapeError({.what = "weight does not fit its parameter after " + a.transform.describe(),
                        .where = a.to + " (from " + join_names(a.from) + ")",
                        .expected = shape_str(dst.sizes().vec()),
                        .got = shape_str(value.sizes().vec())});
    }
    dst.copy_(value);
    ++report.loaded;
  }
  for (const auto& f : plan.fresh) report.fresh.push_back(f.name);
  report.warnings = plan.warnings;
  return report;
}

LoadReport load_weights(const ExpandedMap& map, const std::vector<io::TensorRecord>& records,
                        std::map<std::string, at::Tensor>& params, const PlanOptions& options) {
  const WeightPlan p = plan(map, source_tensors(records), dest_spec(params), options);
  return apply_plan(p, records, params);
}

std::optional<io::DType> dtype_of(at::ScalarType t) {
  using D = io::DType;
  switch (t) {
    case at::kDouble:
      return D::f64;
    case at::kFloat:
      return D::f32;
    case at::kHalf:
      return D::f16;
    case at::kBFloat16:
      return D::bf16;
    case at::kLong:
      return D::i64;
    case at::kInt:
      return D::i32;
    case at::kShort:
      return D::i16;
    case at::kChar:
      return D::i8;
    case at::kByte:
      return D::u8;
    case at::kBool:
      return D::boolean;
    default:
      return std::nullopt;
  }
}

}  // namespace xib::weights

namespace xib {

std::string shape_of(const Tensor& t) { return t.defined() ? weights::shape_str(t.sizes().vec()) : "undefined"; }

}  // namespace xib
