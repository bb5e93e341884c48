// The image modality's cue (" image: ") and instruction templates for captioning and QA.
#pragma once

#include "xib/prompts.h"

namespace xib::image {

const ModalityPrompts& image_prompts();

}  // namespace xib::image
