# Helpers every folder uses, so a new test area is a few lines (xib_add_plugin: XibPlugin.cmake).

# xib_use_torch_pch(<target> [TORCH_FREE src…]): precompile <torch/torch.h> for a torch-heavy
# target; the TORCH_FREE sources skip it. With XIB_UNITY the LibTorch sources are compiled as
# combined units of about XIB_UNITY_BATCH sources each (the torch-free ones alone).
set(XIB_UNITY_BATCH 5 CACHE STRING "LibTorch sources per combined unit (XIB_UNITY)")
function(xib_use_torch_pch target)
  cmake_parse_arguments(P "" "" "TORCH_FREE" ${ARGN})
  target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  if(P_TORCH_FREE)
    set_source_files_properties(${P_TORCH_FREE} TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON
                                SKIP_UNITY_BUILD_INCLUSION ON)
  endif()
  if(XIB_UNITY)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE ${XIB_UNITY_BATCH})
  endif()
endfunction()

# xib_add_test(<name> SOURCES ... [LIBRARIES ...] [LABELS ...])
# One doctest binary per area; every TEST_CASE becomes its own CTest test.
function(xib_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  # CTest splits discovered names at ';' (and an unclosed '[' breaks the list the discovery
  # script builds), and a doctest filter that matches nothing passes: such a case would silently
  # never run, or stop every test from running.
  foreach(_src ${T_SOURCES})
    file(STRINGS ${_src} _bad REGEX "TEST_CASE\\(\"[^\"]*;")
    if(_bad)
      message(FATAL_ERROR "${_src}: a TEST_CASE name contains ';', which CTest would split: ${_bad}")
    endif()
    file(STRINGS ${_src} _bad REGEX "TEST_CASE\\(\"[^\"]*\\[[^]\"]*\"")
    if(_bad)
      message(FATAL_ERROR "${_src}: a TEST_CASE name has a '[' without its ']', which breaks CTest's test list: ${_bad}")
    endif()
  endforeach()
  add_executable(${name} ${CMAKE_SOURCE_DIR}/tests/support/doctest_main.cpp ${T_SOURCES})
  target_link_libraries(${name} PRIVATE xib_kernel xib_test_support xib_warnings doctest::doctest ${T_LIBRARIES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  # A case that cannot run here exits 77 (tests/support/test_skip.h): CTest reports it skipped.
  doctest_discover_tests(${name} TEST_PREFIX "${name}/" ADD_LABELS 0
                         PROPERTIES LABELS "${T_LABELS}" TIMEOUT 600 SKIP_RETURN_CODE 77)
endfunction()

# xib_add_subfolders(): add_subdirectory() for every subfolder of the current one that has a
# CMakeLists.txt (modalities/, plugins/, kernel/media/): adding a folder adds a part, removing
# it breaks nothing else.
macro(xib_add_subfolders)
  file(GLOB _xib_subfolders LIST_DIRECTORIES true CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*)
  foreach(_xib_subfolder ${_xib_subfolders})
    if(IS_DIRECTORY ${_xib_subfolder} AND EXISTS ${_xib_subfolder}/CMakeLists.txt)
      add_subdirectory(${_xib_subfolder})
    endif()
  endforeach()
endmacro()
