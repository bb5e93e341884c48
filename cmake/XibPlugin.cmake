# xib_add_plugin(<name> SOURCES … [LIBRARIES …] [OUTPUT_DIR dir])
# Builds xib-plugin-<name>.so, a shared library the xib kernel loads at run time (its info record
# and init function come from XIB_PLUGIN_INFO / XIB_PLUGIN_INIT, xib/plugin.h). Used inside the
# xib tree and, installed with the SDK, by plugins built elsewhere (find_package(xib)).
# Plugins without OUTPUT_DIR are installed into <prefix>/lib/xib/plugins, where an installed
# xib looks for them.
function(xib_add_plugin name)
  cmake_parse_arguments(P "" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  set(_install ON)
  if(P_OUTPUT_DIR)
    set(_install OFF)
  elseif(XIB_PLUGIN_OUTPUT_DIR)
    set(P_OUTPUT_DIR ${XIB_PLUGIN_OUTPUT_DIR})
  else()
    set(P_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  add_library(xib-plugin-${name} MODULE ${P_SOURCES})
  target_link_libraries(xib-plugin-${name} PRIVATE xib::xib_kernel ${P_LIBRARIES})
  if(TARGET xib_warnings)
    target_link_libraries(xib-plugin-${name} PRIVATE xib_warnings)
  endif()
  target_compile_definitions(xib-plugin-${name} PRIVATE XIB_PLUGIN_NAME="${name}")
  set_target_properties(xib-plugin-${name} PROPERTIES
    PREFIX "" OUTPUT_NAME "xib-plugin-${name}" SUFFIX ".so"
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
    INSTALL_RPATH "$ORIGIN/../..")
  if(_install)
    include(GNUInstallDirs)
    install(TARGETS xib-plugin-${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/xib/plugins)
    set_property(GLOBAL APPEND PROPERTY XIB_PLUGIN_TARGETS xib-plugin-${name})
  endif()
endfunction()
