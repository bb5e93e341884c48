# Build options shared by every target.
option(XIB_BUILD_TESTS "build the doctest test binaries" ON)
option(XIB_WARNINGS_AS_ERRORS "treat compiler warnings as errors" OFF)
set(XIB_SANITIZE "" CACHE STRING "sanitizers to build with, e.g. address,undefined")
set(XIB_JOBS 2 CACHE STRING "at most this many compile/link jobs at once (Ninja pools)")
# LibTorch translation units cost 15–25 s each, 5 of them for what the precompiled header alone
# brings in: compiling a library's LibTorch sources in a few combined units is much faster from
# scratch. Off for quicker rebuilds of one file while working on it.
option(XIB_UNITY "compile each library's LibTorch sources as a few combined (unity) units" ON)

# Each LibTorch translation unit takes ~1.5 GB to compile: keep parallelism low by default.
set_property(GLOBAL APPEND PROPERTY JOB_POOLS xib_compile=${XIB_JOBS} xib_link=${XIB_JOBS})
set(CMAKE_JOB_POOL_COMPILE xib_compile)
set(CMAKE_JOB_POOL_LINK xib_link)

find_program(XIB_CCACHE ccache)
if(XIB_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  # Precompiled headers and ccache agree only with this sloppiness, which must reach every
  # compile, hence the env wrapper.
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime ${XIB_CCACHE})
endif()

add_library(xib_warnings INTERFACE)
target_compile_options(xib_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter
                                              $<$<BOOL:${XIB_WARNINGS_AS_ERRORS}>:-Werror>)
if(XIB_SANITIZE)
  add_compile_options(-fsanitize=${XIB_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${XIB_SANITIZE})
endif()
