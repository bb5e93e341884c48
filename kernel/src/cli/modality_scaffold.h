// The files of a new modality folder (`xib new-modality`), as text with @NAME@ (the modality's
// name), @CLASS@ (its CamelCase form) and @UPPER@ (upper case) to fill in.
#pragma once

#include <string>
#include <vector>

namespace xib::cli {

struct ScaffoldFile {
  std::string path;  ///< relative to the modality folder; may hold @NAME@
  std::string text;
};

const std::vector<ScaffoldFile>& modality_scaffold();

}  // namespace xib::cli
