// The xib::Error hierarchy: every error says what went wrong, where, what was expected, what
// was found, and a hint. The CLI prints report() and exits with exit_code(); nothing aborts.
#pragma once

#include <concepts>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace xib {

/// The parts of an error message. Fill what applies; empty parts are left out of the report.
struct ErrorInfo {
  std::string what = {};      ///< one line: what failed ("unknown key 'stpes' in section 'run'")
  std::string where = {};     ///< file, key, line ("recipes/a.yaml:12:3, key run.stpes")
  std::string expected = {};  ///< what was expected ("one of: steps, batch, lr")
  std::string got = {};       ///< what was found
  std::string hint = {};      ///< how to fix it ("did you mean 'steps'?")
  std::vector<std::pair<std::string, std::string>> details = {};  ///< more labelled lines
};

class Error : public std::runtime_error {
 public:
  explicit Error(ErrorInfo info);
  /// Just a message. (A template, so a braced list such as IoError({.what = …}) can only mean
  /// ErrorInfo: GCC would otherwise consider std::string's two-iterator constructor too.)
  template <class S>
  requires std::convertible_to<const S&, std::string>
  explicit Error(const S& what) : Error(ErrorInfo{.what = std::string(what)}) {}

  const ErrorInfo& info() const noexcept { return info_; }
  /// Multi-line report: "what" on the first line, then aligned "where:", "expected:", … lines.
  std::string report() const;
  /// Process exit code for the CLI: 1 runtime failure, 2 usage error.
  virtual int exit_code() const noexcept { return 1; }
  /// Short class name for logs and tests ("ConfigError").
  virtual const char* kind() const noexcept { return "Error"; }

 private:
  ErrorInfo info_;
};

#define XIB_DECLARE_ERROR(Name, Base, code)                      \
  class Name : public Base {                                     \
   public:                                                       \
    using Base::Base;                                            \
    int exit_code() const noexcept override { return code; }     \
    const char* kind() const noexcept override { return #Name; } \
  }

/// The user asked for something malformed: bad flags, bad recipe, unknown names. Exit 2.
XIB_DECLARE_ERROR(UsageError, Error, 2);
/// A recipe or option value is wrong (unknown key, bad type, failed validate()). Exit 2.
XIB_DECLARE_ERROR(ConfigError, UsageError, 2);
/// A file could not be opened, read or written.
XIB_DECLARE_ERROR(IoError, Error, 1);
/// A file was read but its contents are not what its format requires.
XIB_DECLARE_ERROR(FormatError, Error, 1);
/// A plugin was refused or failed.
XIB_DECLARE_ERROR(PluginError, Error, 1);
/// A named thing (model, plugin, factory) does not exist; the message lists the known ones.
XIB_DECLARE_ERROR(NotFoundError, Error, 1);
/// Tensor shapes or weights do not fit the model.
XIB_DECLARE_ERROR(ShapeError, Error, 1);

#undef XIB_DECLARE_ERROR

/// "a, b, c" — for "known: …" lists in messages.
std::string join_names(const std::vector<std::string>& names, const std::string& sep = ", ");

}  // namespace xib
