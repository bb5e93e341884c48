// LAVIS X-InstructBLIP projection_only names ({m}_ln, {m}_projection, {m}_llm_proj) → our linear
// aligner (ln.*, projection.*, llm_proj.*).
#include "map_builder.h"
#include "xib/weights/maps.h"

namespace xib::weights::maps {

WeightMap lavis_linear() {
  WeightMap map{.name = "lavis x-instructblip projection_only"};
  detail::add_module(map, "{m}_ln", "ln");
  detail::add_module(map, "{m}_projection", "projection");
  detail::add_module(map, "{m}_llm_proj", "llm_proj");
  map.skips = {
      {.pattern = "{m}_encoder.*", .reason = "the frozen encoder, loaded by its own map"},
      {.pattern = "llm_model.*", .reason = "the frozen LLM, loaded by its own map"},
  };
  return map;
}

std::vector<DestParam> linear_params(const LinearShape& s) {
  std::vector<DestParam> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({.name = std::move(name), .shape = std::move(shape)});
  };
  add("ln.weight", {s.encoder_width});
  add("ln.bias", {s.encoder_width});
  add("projection.weight", {s.queries * s.hidden, s.encoder_width});
  add("projection.bias", {s.queries * s.hidden});
  add("llm_proj.weight", {s.llm_width, s.hidden});
  add("llm_proj.bias", {s.llm_width});
  return out;
}

}  // namespace xib::weights::maps
