// Has an info record but no xib_plugin_init: refused for the missing symbol.
#include "xib/plugin.h"

XIB_PLUGIN_INFO("0.0.1", "test fixture: no init function")

extern "C" __attribute__((visibility("default"))) int xib_fixture_something_else() { return 1; }
