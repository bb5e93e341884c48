// The audio modality's recipe section (model.modalities.audio):
//
//   audio:
//     encoder: {type: whisper_tiny_en}                            # embedded default, model cache weights
//     encoder: {type: beats, weights: BEATs_iter3_plus_AS2M.pt}   # upstream: BEATs iter3+ AS2M
//     processor: {segments: 2, eval_segments: all, max_seconds: 600}  # undecodable files: model.skip_undecodable
//     aligner: {type: qformer, …}                                 # handed to the kernel's aligner factory
//
// One input is a sequence of segments, each aligned alone (SPEC §The aligner): BEATs takes
// 512-frame fbank segments ([S, 512, 128]), Whisper 30-s log-mel windows ([S, 80, 3000]).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "xib/config.h"

namespace xib::audio {

inline const std::vector<std::string> kEncoderTypes = {"whisper_tiny_en", "beats"};

/// BEATs sizes; the defaults are BEATs_iter3_plus_AS2M's checkpoint `cfg` (SPEC §Encoders).
struct BeatsOptions {
  int64_t patch_size = 16;  ///< input_patch_size
  int64_t embed_dim = 512;  ///< patch embedding width (then post_extract_proj → width)
  bool conv_bias = false;   ///< patch embedding bias
  int64_t layers = 12;      ///< encoder_layers
  int64_t width = 768;      ///< encoder_embed_dim
  int64_t ffn = 3072;       ///< encoder_ffn_embed_dim
  int64_t heads = 12;       ///< encoder_attention_heads
  bool layer_norm_first = false;
  bool deep_norm = true;
  int64_t conv_pos = 128;        ///< kernel of the convolutional position embedding
  int64_t conv_pos_groups = 16;  ///< its groups
  bool relative_position_embedding = true;
  int64_t num_buckets = 320;
  int64_t max_distance = 800;
  bool gru_rel_pos = true;
  int64_t mel_bins = 128;

  template <class V>
  void fields(V& v) {
    v("patch_size", patch_size, "patch side on the fbank (input_patch_size)");
    v("embed_dim", embed_dim, "patch embedding width (embed_dim)");
    v("conv_bias", conv_bias, "patch embedding has a bias (conv_bias)");
    v("layers", layers, "transformer layers (encoder_layers)");
    v("width", width, "token width (encoder_embed_dim)");
    v("ffn", ffn, "FFN hidden width (encoder_ffn_embed_dim)");
    v("heads", heads, "attention heads (encoder_attention_heads)");
    v("layer_norm_first", layer_norm_first, "pre-norm blocks (layer_norm_first)");
    v("deep_norm", deep_norm, "DeepNorm residual scaling (deep_norm)");
    v("conv_pos", conv_pos, "kernel of the convolutional position embedding (conv_pos)");
    v("conv_pos_groups", conv_pos_groups, "groups of the convolutional position embedding");
    v("relative_position_embedding", relative_position_embedding, "relative position bias");
    v("num_buckets", num_buckets, "relative position buckets");
    v("max_distance", max_distance, "relative position maximum distance");
    v("gru_rel_pos", gru_rel_pos, "gated relative position bias (gru_rel_pos)");
    v("mel_bins", mel_bins, "fbank bins of the input");
  }
  void validate(Validator& v) const {
    v.require(patch_size > 0 && mel_bins % patch_size == 0, "patch_size", "a positive divisor of mel_bins", patch_size);
    v.require(width > 0 && heads > 0 && width % heads == 0, "width", "a positive multiple of heads", width);
    v.require(layers > 0 && ffn > 0 && embed_dim > 0, "layers", "positive sizes", layers);
    v.require(conv_pos > 0 && conv_pos_groups > 0 && width % conv_pos_groups == 0, "conv_pos_groups",
              "a positive divisor of width", conv_pos_groups);
    v.require(!(deep_norm && layer_norm_first), "deep_norm", "deep_norm and layer_norm_first not both on", "both on");
    v.require(num_buckets > 0 && max_distance > 0, "num_buckets", "positive bucket count and distance", num_buckets);
  }
};

/// Whisper encoder sizes; the defaults are tiny.en's.
struct WhisperOptions {
  int64_t mels = 80;
  int64_t width = 384;
  int64_t layers = 4;
  int64_t heads = 6;
  int64_t ffn = 1536;
  int64_t positions = 1500;  ///< output tokens of a 30-s window (3000 frames / 2)

  template <class V>
  void fields(V& v) {
    v("mels", mels, "log-mel bins of the input");
    v("width", width, "token width (d_model)");
    v("layers", layers, "encoder layers");
    v("heads", heads, "attention heads");
    v("ffn", ffn, "FFN hidden width");
    v("positions", positions, "sinusoidal positions (tokens of a 30-s window)");
  }
  void validate(Validator& v) const {
    v.require(width > 0 && heads > 0 && width % heads == 0, "width", "a positive multiple of heads", width);
    v.require(mels > 0 && layers > 0 && ffn > 0 && positions > 0, "layers", "positive sizes", layers);
  }
};

struct EncoderOptions {
  std::string type = "whisper_tiny_en";
  /// Weights file. Empty: whisper_tiny_en uses the model cache's whisper-tiny-en-ct2 package
  /// (CTranslate2 model.bin); beats needs a path (BEATs_iter3_plus_AS2M.pt or a LAVIS checkpoint).
  /// whisper_tiny_en also reads transformers' WhisperModel/WhisperForConditionalGeneration files.
  std::filesystem::path weights = {};
  bool random_init = false;  ///< random weights instead of a file (tests and smoke runs only)
  std::string device = "cpu";
  BeatsOptions beats = {};
  WhisperOptions whisper = {};

  template <class V>
  void fields(V& v) {
    v("type", type, "encoder: whisper_tiny_en (embedded default) or beats (upstream)");
    v("weights", weights, "weights file (model.bin, .pt, .safetensors); empty = the model cache default");
    v("random_init", random_init, "start from random weights instead of a file (tests only)");
    v("device", device, "cpu or cuda");
    v("beats", beats, "BEATs sizes (default: BEATs_iter3_plus_AS2M)");
    v("whisper", whisper, "Whisper encoder sizes (default: tiny.en)");
  }
  void validate(Validator& v) const {
    v.one_of("type", type, kEncoderTypes);
    v.require(device == "cpu" || device.rfind("cuda", 0) == 0, "device", "cpu or cuda[:N]", device);
  }
};

struct ProcessorOptions {
  int64_t sample_rate = 16000;  ///< every clip is resampled to this rate (mono)
  /// Segments per clip in training (and in evaluation with eval_segments: fixed), from the
  /// start, zero-padded: 0 = the encoder's default (beats 2 as upstream, whisper_tiny_en 1).
  int64_t segments = 0;
  /// Evaluation: `all` keeps every segment of the clip after padding (upstream), `fixed` takes
  /// `segments` as in training (every clip the same length, so clips batch together).
  std::string eval_segments = "all";
  /// Frames per segment: 0 = the encoder's (beats 512 fbank frames, whisper_tiny_en 3000
  /// log-mel frames = 30 s).
  int64_t segment_frames = 0;
  /// BEATs evaluation only: pad by the remainder as upstream does, dropping a short tail (and
  /// every segment of a clip under 2.56 s). Off: the last partial segment is zero-padded.
  bool upstream_tail_quirk = false;
  double start_seconds = 0;  ///< window start (upstream's start_sec)
  double end_seconds = 0;    ///< window end; 0 = the end of the clip
  double max_seconds = 600;  ///< decoding stops after this much audio (after start_seconds)

  template <class V>
  void fields(V& v) {
    v("sample_rate", sample_rate, "resample every clip to this rate (Hz)");
    v("segments", segments, "segments per clip in training (0: the encoder's, beats 2, whisper 1)");
    v("eval_segments", eval_segments, "evaluation: all (every segment, upstream) or fixed (as training)");
    v("segment_frames", segment_frames, "frames per segment (0: the encoder's, beats 512, whisper 3000)");
    v("upstream_tail_quirk", upstream_tail_quirk, "beats eval: upstream's remainder padding (drops short tails)");
    v("start_seconds", start_seconds, "window start in seconds");
    v("end_seconds", end_seconds, "window end in seconds (0: the end of the clip)");
    v("max_seconds", max_seconds, "decode at most this many seconds");
  }
  void validate(Validator& v) const {
    v.require(sample_rate >= 1000 && sample_rate <= 384000, "sample_rate", "1000 to 384000 Hz", sample_rate);
    v.require(segments >= 0, "segments", "0 or more", segments);
    v.one_of("eval_segments", eval_segments, {"all", "fixed"});
    v.require(segment_frames >= 0, "segment_frames", "0 or more", segment_frames);
    v.require(start_seconds >= 0, "start_seconds", "0 or more", start_seconds);
    v.require(end_seconds == 0 || end_seconds > start_seconds, "end_seconds", "0 or after start_seconds", end_seconds);
    v.require(max_seconds > 0, "max_seconds", "a positive number", max_seconds);
  }
};

struct AudioModalityOptions {
  EncoderOptions encoder = {};
  ProcessorOptions processor = {};
  ConfigSection aligner = {};           ///< bound by the aligner's own type (ModalityContext::make_aligner)
  std::optional<std::string> cue = {};  ///< default: audio_prompts().cue

  template <class V>
  void fields(V& v) {
    v("encoder", encoder, "the frozen audio encoder");
    v("processor", processor, "decoding, resampling, front end and segments");
    v("aligner", aligner, "the aligner section ({type: qformer | linear, …})");
    v("cue", cue, "text before the audio tokens in the prompt (default ' audio: ')");
  }
};

}  // namespace xib::audio
