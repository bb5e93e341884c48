# Helpers every folder uses, so a new test area is a few lines (xib_add_plugin: XibPlugin.cmake).

# xib_use_torch_pch(<target>): precompile <torch/torch.h> for a torch-heavy target. Torch-free
# sources in it opt out with set_source_files_properties(... SKIP_PRECOMPILE_HEADERS ON).
function(xib_use_torch_pch target)
  target_precompile_headers(${target} PRIVATE <torch/torch.h>)
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
