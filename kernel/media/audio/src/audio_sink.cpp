// The decoders' common back end (audio_decode.h): the window cut at the stream's rate, the mean
// of the channels, the finite-samples check, and libsoxr resampling, streamed so that memory
// grows with the output, never with the stream; and the public resample().
#include <fmt/format.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>

#include "audio_decode.h"
#include "xib/error.h"

namespace xib::media {

namespace audio_detail {

namespace {

constexpr size_t kResampleBlock = 8192;  // output samples per soxr_process call

std::string seconds_text(double s) { return fmt::format("{:.3f} s", s); }

}  // namespace

void check_stream(std::string_view name, std::string_view what, int64_t rate, int64_t channels, int64_t max_channels) {
  if (rate <= 0 || rate > kMaxAudioSampleRate) {
    throw FormatError({.what = "the audio's sample rate is impossible",
                       .where = std::string(name),
                       .expected = fmt::format("1 Hz … {} Hz", kMaxAudioSampleRate),
                       .got = fmt::format("{} Hz ({})", rate, what),
                       .hint = "the header is corrupt; re-encode the file if it plays elsewhere"});
  }
  if (channels <= 0 || channels > max_channels) {
    throw FormatError({.what = channels <= 0 ? "the audio has no channels" : "the audio has too many channels",
                       .where = std::string(name),
                       .expected = fmt::format("1 … {} channels (AudioReadOptions::max_channels)", max_channels),
                       .got = fmt::format("{} channels ({})", channels, what),
                       .hint = channels <= 0 ? "the header is corrupt" : "if the file is genuine, raise max_channels"});
  }
}

Resampler::Resampler(int64_t from, int64_t to) : from_(from), to_(to) {
  if (from == to) return;
  soxr_error_t err = nullptr;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  soxr_ = soxr_create(static_cast<double>(from), static_cast<double>(to), 1, &err, &io, &quality, &runtime);
  if (soxr_ == nullptr || err != nullptr) {
    throw UsageError({.what = "cannot create the resampler",
                      .expected = "rates libsoxr accepts",
                      .got = fmt::format("{} Hz → {} Hz: {}", from, to, err != nullptr ? err : "no resampler")});
  }
  buffer_.resize(kResampleBlock);
}

Resampler::~Resampler() {
  if (soxr_ != nullptr) soxr_delete(soxr_);
}

void Resampler::push(std::span<const float> in, std::vector<float>& out) {
  if (in.empty()) return;  // (a null input would flush libsoxr)
  in_total_ += static_cast<int64_t>(in.size());
  if (soxr_ == nullptr) {
    out.insert(out.end(), in.begin(), in.end());
    out_total_ += static_cast<int64_t>(in.size());
    return;
  }
  size_t used = 0, made = 0;
  do {
    size_t idone = 0;
    made = 0;
    const soxr_error_t err =
        soxr_process(soxr_, in.data() + used, in.size() - used, &idone, buffer_.data(), buffer_.size(), &made);
    if (err != nullptr) throw UsageError({.what = "resampling failed", .got = err});
    out.insert(out.end(), buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(made));
    out_total_ += static_cast<int64_t>(made);
    used += idone;
  } while (used < in.size() || made == buffer_.size());
}

void Resampler::finish(std::vector<float>& out) {
  // round(n × to / from) samples in all: libsoxr's own count when flushed (checked by the tests);
  // the clamp only guards against a sample more or less.
  const auto want = static_cast<int64_t>(
      std::llround(static_cast<double>(in_total_) * static_cast<double>(to_) / static_cast<double>(from_)));
  if (soxr_ != nullptr) {
    size_t made = 0;
    do {
      made = 0;
      const soxr_error_t err = soxr_process(soxr_, nullptr, 0, nullptr, buffer_.data(), buffer_.size(), &made);
      if (err != nullptr) throw UsageError({.what = "resampling failed", .got = err});
      const auto keep = static_cast<size_t>(std::clamp<int64_t>(want - out_total_, 0, static_cast<int64_t>(made)));
      out.insert(out.end(), buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(keep));
      out_total_ += static_cast<int64_t>(keep);
    } while (made > 0);
  }
  if (out_total_ > want) {
    out.resize(out.size() - static_cast<size_t>(out_total_ - want));
  } else if (out_total_ < want) {
    out.resize(out.size() + static_cast<size_t>(want - out_total_), 0.0f);
  }
  out_total_ = want;
}

AudioSink::AudioSink(const AudioReadOptions& options, std::string_view name) : options_(options), name_(name) {}

void AudioSink::begin(int64_t rate, int64_t channels, std::string decoder) {
  check_stream(name_, decoder, rate, channels, options_.max_channels);
  rate_ = rate;
  channels_ = channels;
  decoder_ = std::move(decoder);
  const auto r = static_cast<double>(rate);
  first_ = std::llround(options_.start_seconds * r);
  cap_ = first_ + std::max<int64_t>(1, std::llround(options_.max_seconds * r));
  last_ = options_.end_seconds > 0 ? std::min<int64_t>(cap_, std::llround(options_.end_seconds * r)) : cap_;
  last_ = std::max(last_, first_ + 1);  // a window shorter than a frame keeps one
  position_ = 0;
  kept_ = 0;
  claimed_ = -1;
  samples_.clear();
  const int64_t out_rate = options_.sample_rate > 0 ? options_.sample_rate : rate;
  resampler_ = std::make_unique<Resampler>(rate, out_rate);
}

bool AudioSink::push(const float* interleaved, int64_t frames, int64_t channels) {
  if (frames <= 0) return !done();
  const int64_t start = position_;
  position_ += frames;
  // The part of [start, start + frames) inside [first_, last_).
  const int64_t from = std::max(start, first_), to = std::min(position_, last_);
  if (from >= to) return !done();
  mono_.resize(static_cast<size_t>(to - from));
  const auto c = static_cast<size_t>(channels);
  for (int64_t f = from; f < to; ++f) {
    const float* frame = interleaved + static_cast<size_t>(f - start) * c;
    double sum = 0;
    for (size_t k = 0; k < c; ++k) sum += frame[k];
    const auto v = static_cast<float>(channels == 1 ? sum : sum / static_cast<double>(channels));
    if (!std::isfinite(v)) {
      throw FormatError({.what = "the audio holds samples that are not numbers",
                         .where = name_,
                         .expected = "finite samples",
                         .got = fmt::format("NaN or infinity at frame {} ({})", f, decoder_),
                         .hint = "the file is corrupt (a float WAV with NaN or infinite values?)"});
    }
    // Clipped before resampling too: a float file's huge values (1e30) would overflow the filter.
    mono_[static_cast<size_t>(f - from)] = std::clamp(v, -1.0f, 1.0f);
  }
  kept_ += to - from;
  resampler_->push(mono_, samples_);
  return !done();
}

Audio AudioSink::finish() {
  const auto r = static_cast<double>(rate_);
  if (kept_ == 0 && rate_ > 0 && first_ > 0 && position_ <= first_) {
    if (claimed_ > first_) {  // sought to the window's start, and nothing came after it
      throw FormatError(
          {.what = "the file holds no audio where its header says it does",
           .where = name_,
           .expected =
               fmt::format("audio from {} on (the header claims {})", seconds_text(static_cast<double>(first_) / r),
                           seconds_text(static_cast<double>(claimed_) / r)),
           .got = fmt::format("nothing after {} ({})", seconds_text(static_cast<double>(first_) / r), decoder_),
           .hint = "the file is truncated; the window must start earlier"});
    }
    throw UsageError({.what = "the window starts after the end of the clip",
                      .where = name_,
                      .expected = fmt::format("start_seconds below {}, the clip's length",
                                              seconds_text(static_cast<double>(position_) / r)),
                      .got = fmt::format("start_seconds {}", options_.start_seconds),
                      .hint = "check the annotation's times against the clip"});
  }
  if (kept_ == 0 || !resampler_) {
    throw FormatError({.what = "the file decodes to no samples",
                       .where = name_,
                       .expected = "at least one sample",
                       .got = rate_ > 0 ? fmt::format("0 frames ({})", decoder_) : "no audio",
                       .hint = "the file is empty or truncated after its header"});
  }
  resampler_->finish(samples_);
  for (float& v : samples_) v = std::clamp(v, -1.0f, 1.0f);
  Audio a;
  a.sample_rate = options_.sample_rate > 0 ? options_.sample_rate : rate_;
  a.source_rate = rate_;
  a.source_channels = channels_;
  a.decoder = decoder_;
  a.truncated = position_ > cap_ && last_ == cap_;
  a.samples = std::move(samples_);
  if (a.samples.empty()) {
    throw FormatError({.what = "the window is too short to give one sample at the output rate",
                       .where = name_,
                       .expected = "a window of at least one output sample",
                       .got = fmt::format("{} frames at {} Hz → 0 at {} Hz", kept_, rate_, a.sample_rate),
                       .hint = "widen the window"});
  }
  return a;
}

}  // namespace audio_detail

std::vector<float> resample(std::span<const float> samples, int64_t from, int64_t to) {
  for (const int64_t rate : {from, to}) {
    if (rate <= 0 || rate > kMaxAudioSampleRate) {
      throw UsageError({.what = "cannot resample: a sample rate is out of range",
                        .expected = fmt::format("1 Hz … {} Hz", kMaxAudioSampleRate),
                        .got = fmt::format("{} Hz → {} Hz", from, to)});
    }
  }
  std::vector<float> out;
  out.reserve(static_cast<size_t>(
      std::llround(static_cast<double>(samples.size()) * static_cast<double>(to) / static_cast<double>(from)) + 1));
  audio_detail::Resampler r(from, to);
  r.push(samples, out);
  r.finish(out);
  return out;
}

}  // namespace xib::media
