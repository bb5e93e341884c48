// Streaming text out of a tokenizer: byte-level BPE splits multi-byte characters over tokens,
// so the bytes of an unfinished UTF-8 sequence are held back until the rest arrives.
#include <string>
#include <string_view>

#include "xib/generate.h"

namespace xib {

namespace {

/// Length of the sequence a lead byte starts (0 for a continuation byte, 1 for ASCII or invalid).
size_t sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xC0) == 0x80) return 0;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;  // invalid lead byte: let it through
}

}  // namespace

std::string Utf8Stream::push(std::string_view bytes) {
  pending_.append(bytes);
  // Look back at most 3 bytes for the lead byte of a sequence that is not complete yet.
  size_t keep_from = pending_.size();
  for (size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
    const size_t at = pending_.size() - back;
    const size_t need = sequence_length(static_cast<unsigned char>(pending_[at]));
    if (need == 0) continue;  // a continuation byte: keep looking for its lead
    if (need > back) keep_from = at;
    break;
  }
  std::string out = pending_.substr(0, keep_from);
  pending_.erase(0, keep_from);
  return out;
}

std::string Utf8Stream::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace xib
