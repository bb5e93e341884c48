// The audio modality's frozen encoders and their weight maps.
//
// Whisper encoder (embedded default: tiny.en): [B, mels, T] log-mel (T ≤ 2·positions, even) →
// two GELU convolutions (k 3; stride 1 then 2) → + sinusoidal positions → pre-LN blocks → final
// LayerNorm → [B, T/2, width] ([B, 1500, 384] for a 30-s window). Our parameter names:
//   conv1.{weight [W, mels, 3], bias}, conv2.{weight [W, W, 3], bias}, positions [P, W]
//   layers.{i}.attn_norm.*, layers.{i}.attn.qkv.{weight [3W, W], bias [3W]} (k has no bias),
//   layers.{i}.attn.out.*, layers.{i}.ffn_norm.*, layers.{i}.ffn.up.* [F, W], ffn.down.* [W, F]
//   norm.{weight, bias}
//
// BEATs (upstream: iter3+ AS2M): [B, T, 128] fbank (T a multiple of the patch) → patch conv →
// LayerNorm → post_extract_proj → conv position embedding → (DeepNorm) blocks with the gated
// relative position bias → [B, (T/16)·(128/16), width] ([B, 256, 768] for a 512-frame segment).
// Our names are upstream's (beats_params()).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "audio_options.h"
#include "xib/encoder.h"
#include "xib/weights/weight_map.h"

namespace xib::audio {

/// CTranslate2's WhisperSpec names (encoder/conv1/weight, encoder/layer_{i}/self_attention/
/// linear_0/weight [3W, W] fused q/k/v, …, encoder/layer_norm/gamma) → ours. The decoder and
/// the spec's scalars (encoder/num_heads) are skipped.
weights::WeightMap whisper_ct2_map();
/// transformers' WhisperModel / WhisperForConditionalGeneration / WhisperEncoder names
/// ([model.]encoder.layers.{i}.self_attn.q_proj, …, embed_positions.weight) → ours; q/k/v are
/// concatenated, k's missing bias filled with zeros. The decoder is skipped.
weights::WeightMap whisper_hf_map();
std::vector<weights::DestParam> whisper_encoder_params(const WhisperOptions& config);

/// BEATs checkpoints (BEATs_iter3_plus_AS2M.pt: tensors under "model"; LAVIS X-InstructBLIP
/// checkpoints: under "audio_encoder.model") → ours. Fine-tuned heads (predictor) are skipped.
weights::WeightMap beats_map(const BeatsOptions& config);
std::vector<weights::DestParam> beats_params(const BeatsOptions& config);
/// BEATs' bidirectional relative position buckets (upstream _relative_positions_bucket):
/// int64 key − query distances → int64 bucket indices in [0, num_buckets), same shape.
Tensor beats_relative_buckets(const Tensor& relative_positions, int64_t num_buckets, int64_t max_distance);

/// Build an encoder from its options (weights loaded, eval mode, no grad). NotFoundError for an
/// unknown type; WeightMapError listing every problem for weights that do not fit.
std::unique_ptr<Encoder> make_encoder(const EncoderOptions& options);

std::unique_ptr<Encoder> make_whisper_encoder(const EncoderOptions& options);
std::unique_ptr<Encoder> make_beats(const EncoderOptions& options);

}  // namespace xib::audio
