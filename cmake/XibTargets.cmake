# Helpers every folder uses, so a new plugin or test area is a few lines.

# xib_use_torch_pch(<target>): precompile <torch/torch.h> for a torch-heavy target. Torch-free
# sources in it opt out with set_source_files_properties(... SKIP_PRECOMPILE_HEADERS ON).
function(xib_use_torch_pch target)
  target_precompile_headers(${target} PRIVATE <torch/torch.h>)
endfunction()

# xib_add_plugin(<name> SOURCES ... [LIBRARIES ...] [OUTPUT_DIR dir])
# Builds xib-plugin-<name>.so, a shared library the kernel loads at run time.
function(xib_add_plugin name)
  cmake_parse_arguments(P "" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT P_OUTPUT_DIR)
    set(P_OUTPUT_DIR ${XIB_PLUGIN_OUTPUT_DIR})
  endif()
  add_library(xib-plugin-${name} MODULE ${P_SOURCES})
  target_link_libraries(xib-plugin-${name} PRIVATE xib_kernel xib_warnings ${P_LIBRARIES})
  target_compile_definitions(xib-plugin-${name} PRIVATE XIB_PLUGIN_NAME="${name}")
  set_target_properties(xib-plugin-${name} PROPERTIES
    PREFIX "" OUTPUT_NAME "xib-plugin-${name}" SUFFIX ".so"
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
endfunction()

# xib_add_test(<name> SOURCES ... [LIBRARIES ...] [LABELS ...])
# One doctest binary per area; every TEST_CASE becomes its own CTest test.
function(xib_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  # CTest splits discovered names at ';', and a doctest filter that matches nothing passes:
  # such a case would silently never run.
  foreach(_src ${T_SOURCES})
    file(STRINGS ${_src} _bad REGEX "TEST_CASE\\(\"[^\"]*;")
    if(_bad)
      message(FATAL_ERROR "${_src}: a TEST_CASE name contains ';', which CTest would split: ${_bad}")
    endif()
  endforeach()
  add_executable(${name} ${CMAKE_SOURCE_DIR}/tests/support/doctest_main.cpp ${T_SOURCES})
  target_link_libraries(${name} PRIVATE xib_kernel xib_test_support xib_warnings doctest::doctest ${T_LIBRARIES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  doctest_discover_tests(${name} TEST_PREFIX "${name}/" ADD_LABELS 0
                         PROPERTIES LABELS "${T_LABELS}" TIMEOUT 600)
endfunction()
