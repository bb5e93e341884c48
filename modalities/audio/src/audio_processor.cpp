// The audio processor (see audio_processor.h). Tensors only at the end.
#include "audio_processor.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "audio_segments.h"
#include "xib/error.h"
#include "xib/media/fbank.h"
#include "xib/media/whisper_mel.h"

namespace xib::audio {

namespace {

FrontEnd front_end_for(const ProcessorOptions& o, const EncoderOptions& e) {
  const int64_t hop = o.sample_rate / 100;  // 10 ms: Kaldi's frame shift and Whisper's hop at 16 kHz
  if (e.type == "beats") {
    return {.encoder = e.type,
            .bins = e.beats.mel_bins,
            .segment_frames = o.segment_frames > 0 ? o.segment_frames : 512,
            .train_segments = o.segments > 0 ? o.segments : 2,
            .hop = hop};
  }
  return {.encoder = e.type,
          .bins = e.whisper.mels,
          .segment_frames = o.segment_frames > 0 ? o.segment_frames : 2 * e.whisper.positions,
          .train_segments = o.segments > 0 ? o.segments : 1,
          .hop = hop};
}

}  // namespace

AudioProcessor::AudioProcessor(ProcessorOptions options, const EncoderOptions& encoder)
    : options_(std::move(options)), front_(front_end_for(options_, encoder)) {
  if (front_.encoder == "whisper_tiny_en" && front_.segment_frames > 2 * encoder.whisper.positions) {
    throw ConfigError({.what = "audio segments are longer than the Whisper encoder's positions",
                       .where = "processor.segment_frames",
                       .expected = fmt::format("at most {} frames", 2 * encoder.whisper.positions),
                       .got = std::to_string(front_.segment_frames)});
  }
  if (front_.encoder == "beats" && front_.segment_frames % encoder.beats.patch_size != 0) {
    throw ConfigError({.what = "BEATs segments must be whole patches",
                       .where = "processor.segment_frames",
                       .expected = fmt::format("a multiple of {}", encoder.beats.patch_size),
                       .got = std::to_string(front_.segment_frames)});
  }
}

media::Audio AudioProcessor::decode(const std::filesystem::path& file) const {
  return media::read_audio(file, {.sample_rate = options_.sample_rate,
                                  .start_seconds = options_.start_seconds,
                                  .end_seconds = options_.end_seconds,
                                  .max_seconds = options_.max_seconds});
}

std::vector<int64_t> AudioProcessor::segment_shape() const {
  if (front_.encoder == "beats") return {front_.segment_frames, front_.bins};
  return {front_.bins, front_.segment_frames};
}

std::vector<float> AudioProcessor::features(const std::vector<float>& samples, bool training, int64_t& segments,
                                            const std::string& name) const {
  const bool fixed = training || options_.eval_segments == "fixed";
  if (front_.encoder == "beats") {
    media::FbankOptions fo = media::beats_fbank_options();
    fo.sample_frequency = static_cast<double>(options_.sample_rate);
    fo.num_mel_bins = front_.bins;
    // × 2^15 as BEATs does; a clip shorter than one 25-ms frame is zero-padded to one frame.
    std::vector<float> wave(std::max<size_t>(samples.size(), static_cast<size_t>(fo.window_size())), 0.0f);
    for (size_t i = 0; i < samples.size(); ++i) wave[i] = samples[i] * 32768.0f;
    media::Fbank f = media::kaldi_fbank(wave, fo);
    media::normalize_beats_fbank(f);
    const SegmentRule rule{.length = front_.segment_frames,
                           .fixed = fixed ? front_.train_segments : 0,
                           .upstream_tail_quirk = options_.upstream_tail_quirk && !fixed};
    segments = segment_count(f.frames, rule);
    if (segments == 0) {
      throw FormatError({.what = "the clip is too short for upstream's evaluation segments",
                         .where = name,
                         .expected = fmt::format("at least {} fbank frames with processor.upstream_tail_quirk",
                                                 (front_.segment_frames + 1) / 2),
                         .got = fmt::format("{} frames ({:.2f} s)", f.frames,
                                            static_cast<double>(samples.size()) / options_.sample_rate),
                         .hint = "upstream drops such clips' every segment; set processor.upstream_tail_quirk: false"});
    }
    return cut_segments(f.values, f.frames, f.bins, rule);
  }
  // Whisper: each window of L·hop samples through the log-mel, as one 30-s clip is.
  const int64_t window = front_.segment_frames * front_.hop;
  const int64_t n = static_cast<int64_t>(samples.size());
  segments = fixed ? front_.train_segments : std::max<int64_t>(1, (n + window - 1) / window);
  const media::WhisperMelOptions mo{.n_mels = front_.bins,
                                    .n_fft = 400 * options_.sample_rate / 16000,
                                    .hop_length = front_.hop,
                                    .sample_rate = options_.sample_rate,
                                    .chunk_seconds = static_cast<double>(window) / options_.sample_rate};
  std::vector<float> out;
  out.reserve(static_cast<size_t>(segments * front_.bins * front_.segment_frames));
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t begin = std::min(n, s * window), end = std::min(n, (s + 1) * window);
    const std::span<const float> part(samples.data() + begin, static_cast<size_t>(end - begin));
    const media::WhisperMel mel = media::whisper_log_mel(part, mo);
    if (mel.frames != front_.segment_frames) {
      throw UsageError({.what = "whisper log-mel window of an unexpected length",
                        .where = name,
                        .expected = std::to_string(front_.segment_frames),
                        .got = std::to_string(mel.frames)});
    }
    out.insert(out.end(), mel.values.begin(), mel.values.end());
  }
  return out;
}

Tensor AudioProcessor::load(const std::filesystem::path& file, bool training) {
  const media::Audio audio = decode(file);
  int64_t segments = 0;
  std::vector<float> values;
  try {
    values = features(audio.samples, training, segments, file.string());
  } catch (const UsageError& e) {  // the front ends refuse samples that are not finite
    throw FormatError({.what = "the decoded audio cannot go through the front end",
                       .where = file.string(),
                       .got = e.info().what,
                       .hint = "the file's samples are not usable (not finite); re-encode it"});
  }
  std::vector<int64_t> shape = segment_shape();
  shape.insert(shape.begin(), segments);
  auto* owned = new std::vector<float>(std::move(values));
  return torch::from_blob(
      owned->data(), shape, [owned](void*) { delete owned; }, torch::kFloat32);
}

nlohmann::json AudioProcessor::config() const {
  return {{"encoder", front_.encoder},
          {"sample_rate", options_.sample_rate},
          {"bins", front_.bins},
          {"segment_frames", front_.segment_frames},
          {"segments", front_.train_segments},
          {"eval_segments", options_.eval_segments},
          {"upstream_tail_quirk", options_.upstream_tail_quirk},
          {"start_seconds", options_.start_seconds},
          {"end_seconds", options_.end_seconds},
          {"max_seconds", options_.max_seconds}};
}

}  // namespace xib::audio
