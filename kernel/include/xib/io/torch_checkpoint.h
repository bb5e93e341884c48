// PyTorch checkpoints (.pth/.pt/.bin) without LibTorch: the zip format torch.save writes since
// 1.6 (stored entries, memory-mapped, storages zero-copy) and the legacy stream format
// (_use_new_zipfile_serialization=False). The pickles go through the restricted unpickler in
// xib/io/pickle.h: nothing from the file is ever executed.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xib/io/pickle.h"
#include "xib/io/tensor_record.h"

namespace xib::io {

struct CheckpointOptions {
  bool strict = false;        ///< refuse any non-allowed global (argparse.Namespace, numpy scalars, …)
  PickleOptions limits = {};  ///< depth, memo and size limits (strict/where are set by the reader)
};

/// A non-tensor leaf of a checkpoint: "epoch" → "int 3", "args" → "opaque argparse.Namespace".
struct CheckpointEntry {
  std::string name;
  std::string description;
};

class Checkpoint {
 public:
  enum class Format { zip, legacy };

  /// Opens and parses a checkpoint; IoError if it cannot be read, FormatError if malformed.
  static Checkpoint open(const std::filesystem::path& file, const CheckpointOptions& options = {});
  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  ~Checkpoint();

  Format format() const;
  const std::filesystem::path& path() const;
  /// The unpickled object (a dict for state dicts; {"model": …, "epoch": …} for training files).
  const PickleValue& root() const;

  /// Every tensor, named by its dotted path from the root ("model.bert.encoder.layer.0.weight"),
  /// in file order. `data` points into this Checkpoint's mapping.
  std::vector<TensorRecord> tensors() const;
  /// The tensors under the dict at a dotted path ("" = root, "model"), named relative to it.
  /// NotFoundError (listing the keys) if the path is not a dict in the checkpoint.
  std::vector<TensorRecord> state_dict(std::string_view path = "") const;
  /// Dotted paths of the dicts that directly hold tensors ("" for a plain state dict).
  std::vector<std::string> state_dict_paths() const;
  /// Non-tensor leaves (numbers, strings, opaque placeholders, …) with short descriptions.
  std::vector<CheckpointEntry> other_entries() const;
  /// A pickle tensor as a bounds-checked record over its storage.
  TensorRecord record(const std::string& name, const PickleTensor& t) const;

 private:
  struct Impl;
  explicit Checkpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xib::io
