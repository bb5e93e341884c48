// Include this instead of <doctest/doctest.h> in a test that uses LibTorch. LibTorch brings
// glog, whose CHECK* macros would silently replace doctest's (and abort instead of reporting):
// ATen comes first, its macros are dropped, then doctest defines its own.
#pragma once

#include <ATen/ATen.h>
#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE

#include <doctest/doctest.h>
