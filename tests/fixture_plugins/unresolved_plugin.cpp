// Needs a symbol nothing provides: the dynamic loader (RTLD_NOW) refuses it at load time, and
// xib reports that instead of crashing later.
#include "xib/plugin.h"

extern "C" void xib_fixture_symbol_nobody_defines();

XIB_PLUGIN_INFO("0.0.1", "test fixture: unresolved symbol")

XIB_PLUGIN_INIT(reg) { xib_fixture_symbol_nobody_defines(); }
