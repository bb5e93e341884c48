// The image modality's prompt text (xib/prompts.h): its cue and instruction templates, written
// for xib (our own wording; none copied from upstream's lists). Registered by the plugin as the
// ModalityPrompts "image"; datasets draw from them.
#include "image_prompts.h"

namespace xib::image {

const ModalityPrompts& image_prompts() {
  static const ModalityPrompts prompts{.cue = " image: ",
                                       .templates = {
                                           {"caption",
                                            {
                                                "a short description",
                                                "describe the image briefly.",
                                                "write a short caption for this picture.",
                                                "what is shown in the image? answer in one sentence.",
                                                "give a brief description of the photo.",
                                                "summarise what you see in this image.",
                                                "caption this image.",
                                                "in a few words, what does the picture show?",
                                            }},
                                           {"qa",
                                            {
                                                "{question}",
                                                "question: {question} short answer:",
                                                "{question} answer briefly.",
                                                "look at the image and answer: {question}",
                                                "given the picture, {question} reply in a few words.",
                                                "q: {question} a:",
                                                "answer the question about the image in a word or two. {question}",
                                            }},
                                       }};
  return prompts;
}

}  // namespace xib::image
