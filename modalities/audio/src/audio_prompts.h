// The audio modality's cue (" audio: ") and instruction templates for captioning and QA.
#pragma once

#include "xib/prompts.h"

namespace xib::audio {

const ModalityPrompts& audio_prompts();

}  // namespace xib::audio
