// UTF-8 decoding for the tokenizers (xib/text/utf8.h): lenient, one U+FFFD per bad byte.
#include <doctest/doctest.h>

#include <string>

#include "xib/text/utf8.h"

using namespace xib::text;

TEST_CASE("utf8: valid text round-trips through code points") {
  const std::string text = "a é € 😀 你好";
  const auto cps = decode_utf8(text);
  CHECK(cps == U"a é € 😀 你好");
  CHECK(encode_utf8(cps) == text);
  CHECK(is_valid_utf8(text));
  CHECK(valid_sequence_length(text, 2) == 2);  // é
}

TEST_CASE("utf8: each byte that does not start a valid sequence reads as U+FFFD") {
  CHECK(decode_utf8("\xff") == U"\uFFFD");
  CHECK(decode_utf8("a\xe2\x82") == U"a\uFFFD\uFFFD");          // truncated
  CHECK(decode_utf8("\xc0\xaf") == U"\uFFFD\uFFFD");            // overlong
  CHECK(decode_utf8("\xed\xa0\x80") == U"\uFFFD\uFFFD\uFFFD");  // surrogate
  CHECK(decode_utf8("\xf4\x90\x80\x80").size() == 4);           // > U+10FFFF
  CHECK(decode_utf8("\x80z") == U"\uFFFDz");                    // lone continuation
  size_t pos = 0;
  bool valid = true;
  CHECK(next_code_point("\xff", pos, &valid) == kReplacementChar);
  CHECK_FALSE(valid);
  CHECK(pos == 1);
  CHECK_FALSE(is_valid_utf8("ok\xff"));
}
