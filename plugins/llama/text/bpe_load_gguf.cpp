// BpeTokenizer from GGUF metadata (tokenizer.ggml.*), as llama.cpp's llama_vocab::load reads it.
#include <fmt/format.h>

#include "bpe_tokenizer.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

namespace xib::llama {
namespace {

// llama_token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
constexpr int64_t kControl = 3, kUserDefined = 4;

bool is_llama3_family(std::string_view pre) {
  for (const char* n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"}) {
    if (pre == n) return true;
  }
  return false;
}

}  // namespace

BpeTokenizer BpeTokenizer::from_gguf(const std::filesystem::path& file) { return from_gguf(io::GgufFile(file)); }

BpeTokenizer BpeTokenizer::from_gguf(const io::GgufFile& gguf) {
  const std::string kind = gguf.get_string("tokenizer.ggml.model");
  if (kind != "gpt2") {
    throw FormatError({.what = fmt::format("tokenizer.ggml.model '{}' is not a byte-level BPE tokenizer", kind),
                       .where = gguf.source() + ", key tokenizer.ggml.model",
                       .expected = "gpt2 (byte-level BPE)",
                       .got = kind,
                       .hint = kind == "llama" ? "SentencePiece ('llama') vocabularies are not supported yet" : ""});
  }
  BpeModel model;
  model.source = gguf.source();
  model.name = "bpe:" + gguf.get_string_or("general.name", std::filesystem::path(gguf.source()).stem().string());
  model.vocab = gguf.get_string_array("tokenizer.ggml.tokens");
  const auto merges = gguf.get_string_array("tokenizer.ggml.merges");
  model.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const size_t space = merges[i].find(' ', 1);
    if (space == std::string::npos) {
      throw FormatError({.what = "malformed BPE merge",
                         .where = fmt::format("{}, key tokenizer.ggml.merges[{}]", gguf.source(), i),
                         .expected = "\"left right\"",
                         .got = merges[i]});
    }
    model.merges.emplace_back(merges[i].substr(0, space), merges[i].substr(space + 1));
  }
  if (gguf.find("tokenizer.ggml.token_type")) {
    const auto types = gguf.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != model.vocab.size()) {
      throw FormatError({.what = "tokenizer.ggml.token_type and tokenizer.ggml.tokens differ in length",
                         .where = gguf.source() + ", key tokenizer.ggml.token_type",
                         .expected = std::to_string(model.vocab.size()),
                         .got = std::to_string(types.size())});
    }
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] == kControl || types[i] == kUserDefined) {
        model.added.push_back({.text = model.vocab[i], .id = static_cast<int64_t>(i), .special = types[i] == kControl});
      }
    }
  }
  const std::string pre = gguf.get_string_or("tokenizer.ggml.pre", "default");
  model.split_regexes = bpe_pre_tokenizer_regexes(pre);
  model.ignore_merges = is_llama3_family(pre);
  const auto id = [&](const char* key) -> std::optional<int64_t> {
    if (!gguf.find(key)) return std::nullopt;
    return gguf.get_int(key);
  };
  model.bos = id("tokenizer.ggml.bos_token_id");
  model.eos = id("tokenizer.ggml.eos_token_id");
  model.unk = id("tokenizer.ggml.unknown_token_id");
  model.pad = id("tokenizer.ggml.padding_token_id");
  model.add_bos = gguf.get_bool_or("tokenizer.ggml.add_bos_token", is_llama3_family(pre));
  return BpeTokenizer(std::move(model));
}

}  // namespace xib::llama
