// Built for a plugin ABI this xib does not have: refused before it is loaded. Its init would
// abort the process, so a test passing proves the file was never loaded.
#include <cstdlib>

#include "xib/plugin.h"

XIB_PLUGIN_EXPORT __attribute__((section(".xib_plugin_info"), used))
const xib::PluginInfoRecord xib_plugin_info = {{'X', 'I', 'B', 'P', 'L', 'U', 'G', '1'},
                                               sizeof(xib::PluginInfoRecord),
                                               999,
                                               _GLIBCXX_USE_CXX11_ABI,
                                               0,
                                               XIB_PLUGIN_NAME,
                                               "0.0.1",
                                               XIB_TORCH_VERSION,
                                               XIB_BUILD_ID,
                                               "test fixture: wrong plugin ABI"};

XIB_PLUGIN_INIT(reg) { std::abort(); }
