// What a plugin file must carry. Every plugin is a shared library with
//   1. an info record in the ELF section ".xib_plugin_info" (XIB_PLUGIN_INFO below), which the
//      loader reads from the file *before* loading it, and refuses on an ABI or LibTorch mismatch;
//   2. one exported function `xib_plugin_init(xib::Registrations&)` that registers factories.
// Plugins do no work in static initialisers: everything happens in init, so a throwing init is
// caught and reported, and a refused plugin leaves nothing behind.
//
//   // modalities/image/src/plugin.cpp
//   #include "xib/plugin.h"
//   XIB_PLUGIN_INFO("0.1.0", "image modality: EVA-CLIP ViT and EfficientNet-Lite0 encoders")
//   XIB_PLUGIN_INIT(reg) { reg.add<xib::Modality>("image", make_image, "…"); }
#pragma once

#include <cstdint>

#include "xib/build_info.h"
#include "xib/registry.h"

namespace xib {

/// Bump when any kernel interface a plugin sees changes in an incompatible way.
inline constexpr uint32_t kPluginAbiVersion = 3;  // 3: Modality and Aligner factories take a construction context, ModalityPrompts
inline constexpr char kPluginInfoMagic[8] = {'X', 'I', 'B', 'P', 'L', 'U', 'G', '1'};
inline constexpr const char* kPluginInfoSection = ".xib_plugin_info";
inline constexpr const char* kPluginInitSymbol = "xib_plugin_init";

/// Fixed-layout record; read straight from the file. Strings are NUL-terminated.
struct PluginInfoRecord {
  char magic[8];
  uint32_t record_size;  ///< sizeof(PluginInfoRecord) when written
  uint32_t abi_version;  ///< kPluginAbiVersion the plugin was built with
  uint32_t cxx11_abi;    ///< _GLIBCXX_USE_CXX11_ABI the plugin was built with
  uint32_t reserved;
  char name[64];           ///< plugin name ("image", "llama")
  char version[32];        ///< plugin's own version
  char torch_version[32];  ///< LibTorch version it was built against
  char build_id[48];       ///< the build tree that produced it
  char description[128];
};

using PluginInitFn = void(Registrations&);

}  // namespace xib

#define XIB_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

/// Defines the info record. XIB_PLUGIN_NAME comes from xib_add_plugin() in CMake.
#define XIB_PLUGIN_INFO(version_str, description_str)                                      \
  XIB_PLUGIN_EXPORT __attribute__((section(".xib_plugin_info"), used))                     \
  const xib::PluginInfoRecord xib_plugin_info = {{'X', 'I', 'B', 'P', 'L', 'U', 'G', '1'}, \
                                                 sizeof(xib::PluginInfoRecord),            \
                                                 xib::kPluginAbiVersion,                   \
                                                 _GLIBCXX_USE_CXX11_ABI,                   \
                                                 0,                                        \
                                                 XIB_PLUGIN_NAME,                          \
                                                 version_str,                              \
                                                 XIB_TORCH_VERSION,                        \
                                                 XIB_BUILD_ID,                             \
                                                 description_str};

/// Defines the init function: XIB_PLUGIN_INIT(reg) { reg.add<…>(…); }
#define XIB_PLUGIN_INIT(registrations_var) XIB_PLUGIN_EXPORT void xib_plugin_init(xib::Registrations& registrations_var)
