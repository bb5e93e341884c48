// A shared library with an init function but no info record: refused without being loaded.
#include <cstdlib>

#include "xib/plugin.h"

XIB_PLUGIN_INIT(reg) { std::abort(); }
