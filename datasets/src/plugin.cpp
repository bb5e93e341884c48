// The datasets plugin: registers the LAVIS annotation readers `caption` and `qa` as datasets.
#include "xib/plugin.h"

#include "xib/datasets/lavis_reader.h"
#include "xib/datasets/mini_world.h"

XIB_PLUGIN_INFO("0.1.0", "dataset readers (LAVIS caption and QA annotation JSON) and the miniature image world")

XIB_PLUGIN_INIT(reg) {
  xib::datasets::register_lavis_readers(reg);
  xib::datasets::register_mini_world(reg);
}
