// The one mapping between LibTorch scalar types and our storage dtypes (io::DType), for the
// kernel's LibTorch translation units (weight loading, checkpoints).
#pragma once

#include <c10/core/ScalarType.h>

#include <optional>

#include "xib/io/tensor_record.h"

namespace xib::weights {

/// The storage dtype of a LibTorch scalar type, or nullopt for types we do not store.
std::optional<io::DType> dtype_of(at::ScalarType t);

}  // namespace xib::weights
