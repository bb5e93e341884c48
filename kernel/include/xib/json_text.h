// JSON to text that survives any bytes: strings that are not valid UTF-8 (a prompt, a file name,
// a model's partial token) are written with U+FFFD in place of each invalid byte instead of
// throwing. Every JSON that xib prints or writes goes through it.
//
//   std::cout << xib::json_text(out, 2) << "\n";
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace xib {

/// `j` as text (`indent` < 0: one line), invalid UTF-8 replaced.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace xib
