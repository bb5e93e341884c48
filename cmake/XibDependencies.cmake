# Third-party packages. All come from the system (scripts/setup-deps.sh installs them) except
# LibTorch, which may also come from a PyTorch 2.x install via -DTorch_DIR=…/torch/share/cmake/Torch.

# A LibTorch outside the system folders (a PyTorch wheel) must also provide the libraries:
# TorchConfig looks them up with find_library, which would otherwise find Debian's libtorch.so
# first and pair the wheel's headers with the system's 1.13 libraries.
if(Torch_DIR)
  get_filename_component(_torch_prefix "${Torch_DIR}/../../.." ABSOLUTE)
  list(PREPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
endif()
find_package(Torch REQUIRED)
get_filename_component(_torch_lib_dir "${TORCH_LIBRARY}" DIRECTORY)
get_filename_component(_torch_cfg_prefix "${Torch_DIR}/../../.." ABSOLUTE)
if(NOT _torch_lib_dir MATCHES "^${_torch_cfg_prefix}" AND NOT _torch_cfg_prefix MATCHES "^/usr")
  message(FATAL_ERROR "LibTorch from ${Torch_DIR} but its library from ${TORCH_LIBRARY}: "
                      "clear the build folder's CMakeCache.txt and configure again with only -DTorch_DIR")
endif()

# A PyTorch wheel's CUDA libraries find their own dependencies (NCCL, cuBLAS, … from the wheel's
# nvidia packages) at run time through their RUNPATH; at link time ld would pick up a system
# CUDA's older copies and fail on symbols those lack. Leave them to the dynamic loader.
if(NOT _torch_cfg_prefix MATCHES "^/usr")
  add_link_options(LINKER:--allow-shlib-undefined)
endif()

find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
# PyTorch 2.x ships its own fmt headers in its include folder, which shadow the system's; the
# system library would then not match them. Header-only fmt is consistent with whichever
# headers a translation unit sees.
set(XIB_FMT fmt::fmt)
foreach(_dir ${TORCH_INCLUDE_DIRS})
  if(EXISTS "${_dir}/fmt/format.h")
    set(XIB_FMT fmt::fmt-header-only)
    message(STATUS "xib: LibTorch ships fmt headers (${_dir}/fmt): using fmt header-only")
  endif()
endforeach()
find_package(nlohmann_json 3.10 REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
if(XIB_BUILD_TESTS)
  find_package(doctest REQUIRED)
  include(doctest) # doctest_discover_tests
endif()

# LibTorch's flags carry its C++ standard-library ABI (1.x); PyTorch 2.x dropped the old ABI and
# says nothing, which means the C++11 ABI. Every xib target must agree with LibTorch.
set(XIB_CXX11_ABI 1)
if("${TORCH_CXX_FLAGS}" MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
  set(XIB_CXX11_ABI "${CMAKE_MATCH_1}")
endif()
add_compile_definitions(_GLIBCXX_USE_CXX11_ABI=${XIB_CXX11_ABI})
message(STATUS "xib: LibTorch ${Torch_VERSION} (C++11 ABI ${XIB_CXX11_ABI}, ${TORCH_LIBRARY})")
