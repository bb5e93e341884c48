// Claims to be built against another LibTorch: refused before it is loaded.
#include <cstdlib>

#include "xib/plugin.h"

XIB_PLUGIN_EXPORT __attribute__((section(".xib_plugin_info"), used))
const xib::PluginInfoRecord xib_plugin_info = {{'X', 'I', 'B', 'P', 'L', 'U', 'G', '1'},
                                               sizeof(xib::PluginInfoRecord),
                                               xib::kPluginAbiVersion,
                                               _GLIBCXX_USE_CXX11_ABI,
                                               0,
                                               XIB_PLUGIN_NAME,
                                               "0.0.1",
                                               "0.4.1",
                                               XIB_BUILD_ID,
                                               "test fixture: wrong LibTorch"};

XIB_PLUGIN_INIT(reg) { std::abort(); }
