# Third-party packages. All come from the system (scripts/setup-deps.sh installs them) except
# LibTorch, which may also come from a PyTorch 2.x install via -DTorch_DIR=…/torch/share/cmake/Torch.
find_package(Torch REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(Threads REQUIRED)
if(XIB_BUILD_TESTS)
  find_package(doctest REQUIRED)
  include(doctest) # doctest_discover_tests
endif()

# LibTorch's imported targets carry its C++ ABI flag; every xib target must agree with it.
string(REGEX MATCH "_GLIBCXX_USE_CXX11_ABI=([01])" _abi "${TORCH_CXX_FLAGS}")
set(XIB_CXX11_ABI ${CMAKE_MATCH_1})
if(XIB_CXX11_ABI STREQUAL "")
  set(XIB_CXX11_ABI 1)
endif()
add_compile_definitions(_GLIBCXX_USE_CXX11_ABI=${XIB_CXX11_ABI})
message(STATUS "xib: LibTorch ${Torch_VERSION} (C++11 ABI ${XIB_CXX11_ABI}) from ${Torch_DIR}")
