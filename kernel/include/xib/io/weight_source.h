// Any weights file xib can read, behind one interface: safetensors (one file, a shard index, or
// a model folder), PyTorch checkpoints (zip or legacy), GGUF (llama.cpp, v2/v3) and CTranslate2
// (a model.bin or its folder; variables and aliases named as stored, scopes joined by '/',
// int8/int16 weights with their *_scale variables; metadata: spec, spec_revision,
// binary_version, "alias <name>"). Torch-free: tensors are TensorRecords whose bytes live as
// long as the source.
//
// GGUF: every tensor is dequantised to f32 when the file is opened (xib/io/gguf.h lists the
// types), named as stored ("blk.0.attn_q.weight"), with row-major shapes (GGUF's dims reversed).
// attn_q / attn_k weights stay in llama.cpp's permuted row order: the language-model plugin's
// loader undoes it (plugins/llama). metadata() renders every key ("u32 30",
// "array[49152] of string").
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xib/io/tensor_record.h"

namespace xib::io {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  /// "safetensors", "safetensors (N shards)", "pytorch zip", "pytorch legacy", "gguf v3", "gguf v2",
  /// "ctranslate2 v6".
  virtual std::string format() const = 0;
  virtual const std::filesystem::path& path() const = 0;
  /// Every tensor in file order, named as stored (dotted paths inside nested checkpoints:
  /// "model.bert.encoder.layer.0.attention.self.query.weight").
  virtual const std::vector<TensorRecord>& tensors() const = 0;
  /// The tensor with this name, or nullptr.
  virtual const TensorRecord* find(std::string_view name) const = 0;
  /// Text metadata: safetensors' __metadata__; for checkpoints, each non-tensor entry with a
  /// short description ("epoch" → "int 3", "args" → "opaque argparse.Namespace").
  virtual std::map<std::string, std::string> metadata() const = 0;
  /// The files the tensors were read from (the shards of a sharded checkpoint, else path()).
  virtual std::vector<std::filesystem::path> files() const = 0;
  /// The `prefix` option that was applied ("" for none).
  virtual const std::string& prefix() const = 0;
};

struct WeightOpenOptions {
  bool strict = false;      ///< checkpoints: refuse any global that is not a tensor or container
  std::string prefix = {};  ///< keep only tensors under this dotted path and strip it ("model")
};

/// Open by content (not by extension): safetensors file, *.index.json, a folder holding either,
/// a PyTorch checkpoint, or a GGUF file. Unknown formats are a FormatError naming what was
/// found; a missing file is an IoError; an unknown prefix a NotFoundError listing the available
/// ones.
std::unique_ptr<WeightSource> open_weights(const std::filesystem::path& path, const WeightOpenOptions& options = {});

}  // namespace xib::io
