// EfficientNet-Lite's architecture as data: stage expansion, our parameter table and the map
// from efficientnet_lite_pytorch's names. Torch-free.
#include <string>

#include "encoders.h"

namespace xib::image {

std::vector<MbConvBlock> EfficientNetLiteConfig::blocks() const {
  std::vector<MbConvBlock> out;
  for (const auto& s : stages) {
    for (int64_t r = 0; r < s.repeats; ++r) {
      out.push_back({.kernel = s.kernel,
                     .stride = r == 0 ? s.stride : 1,
                     .expand = s.expand,
                     .in = r == 0 ? s.in : s.out,
                     .out = s.out});
    }
  }
  return out;
}

namespace {

constexpr const char* kBnLeaves[] = {"weight", "bias", "running_mean", "running_var"};

void add_conv_bn(weights::WeightMap& map, const std::string& conv_from, const std::string& bn_from,
                 const std::string& to) {
  map.entries.push_back({.from = {conv_from + ".weight"}, .to = to + ".conv.weight"});
  for (const char* leaf : kBnLeaves) {
    map.entries.push_back({.from = {bn_from + "." + leaf}, .to = to + ".bn." + leaf});
  }
}

void add_params(std::vector<weights::DestParam>& out, const std::string& to, std::vector<int64_t> conv,
                int64_t channels) {
  out.push_back({.name = to + ".conv.weight", .shape = std::move(conv)});
  for (const char* leaf : kBnLeaves) out.push_back({.name = to + ".bn." + leaf, .shape = {channels}});
}

}  // namespace

weights::WeightMap efficientnet_lite_map(const EfficientNetLiteConfig& config) {
  weights::WeightMap map{.name = "efficientnet_lite_pytorch efficientnet-lite"};
  add_conv_bn(map, "_conv_stem", "_bn0", "stem");
  const auto blocks = config.blocks();
  for (size_t i = 0; i < blocks.size(); ++i) {
    const std::string from = "_blocks." + std::to_string(i) + ".", to = "blocks." + std::to_string(i) + ".";
    if (blocks[i].expand != 1) add_conv_bn(map, from + "_expand_conv", from + "_bn0", to + "expand");
    add_conv_bn(map, from + "_depthwise_conv", from + "_bn1", to + "depthwise");
    add_conv_bn(map, from + "_project_conv", from + "_bn2", to + "project");
  }
  add_conv_bn(map, "_conv_head", "_bn1", "head");
  map.skips = {
      {.pattern = "*.num_batches_tracked", .reason = "BatchNorm's training counter, unused in eval mode"},
      {.pattern = "_fc.*", .reason = "the ImageNet classifier: the tokens are the last feature map"},
  };
  return map;
}

std::vector<weights::DestParam> efficientnet_lite_params(const EfficientNetLiteConfig& config) {
  std::vector<weights::DestParam> out;
  add_params(out, "stem", {config.stem, 3, 3, 3}, config.stem);
  const auto blocks = config.blocks();
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    const std::string to = "blocks." + std::to_string(i) + ".";
    if (b.expand != 1) add_params(out, to + "expand", {b.hidden(), b.in, 1, 1}, b.hidden());
    add_params(out, to + "depthwise", {b.hidden(), 1, b.kernel, b.kernel}, b.hidden());
    add_params(out, to + "project", {b.out, b.hidden(), 1, 1}, b.out);
  }
  add_params(out, "head", {config.head, blocks.back().out, 1, 1}, config.head);
  return out;
}

}  // namespace xib::image
