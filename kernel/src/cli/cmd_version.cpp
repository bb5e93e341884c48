#include <fmt/format.h>

#include <iostream>

#include "command.h"
#include "xib/build_info.h"
#include "xib/plugin.h"
#include "xib/runtime.h"

namespace xib::cli {

Command version_command() {
  return {
      .name = "version",
      .summary = "print the version and what this build was made with",
      .usage = "xib version",
      .details =
          "Prints xib's version, build id, compiler, LibTorch version and C++ ABI, the plugin ABI\n"
          "plugins must match, and the threads LibTorch will use.",
      .options = {},
      .run =
          [](const po::variables_map&) {
            std::cout << fmt::format(
                "xib {}\n"
                "  build id     {}\n"
                "  build type   {}\n"
                "  compiler     {}\n"
                "  LibTorch     {} (C++11 ABI {})\n"
                "  plugin ABI   {}\n"
                "  threads      {} of {} available cores\n",
                XIB_VERSION, XIB_BUILD_ID, XIB_BUILD_TYPE, XIB_COMPILER, XIB_TORCH_VERSION, _GLIBCXX_USE_CXX11_ABI,
                kPluginAbiVersion, threads(), available_cores());
            return 0;
          },
  };
}

}  // namespace xib::cli
