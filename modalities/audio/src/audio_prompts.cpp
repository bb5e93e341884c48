// The audio modality's prompt text (xib/prompts.h): its cue and instruction templates, written
// for xib (our own wording, for the same tasks as upstream's audio captioning and QA sets).
// Registered by the plugin as the ModalityPrompts "audio"; datasets draw from them.
#include "audio_prompts.h"

namespace xib::audio {

const ModalityPrompts& audio_prompts() {
  static const ModalityPrompts prompts{.cue = " audio: ",
                                       .templates = {
                                           {"caption",
                                            {
                                                "a short description",
                                                "describe the audio briefly.",
                                                "what do you hear? answer in one sentence.",
                                                "write a short caption for this sound.",
                                                "summarise what can be heard in the recording.",
                                                "caption this audio clip.",
                                                "in a few words, what is the sound?",
                                                "listen and describe what happens.",
                                            }},
                                           {"qa",
                                            {
                                                "{question}",
                                                "question: {question} short answer:",
                                                "{question} answer briefly.",
                                                "listen to the audio and answer: {question}",
                                                "given the sound, {question} reply in a few words.",
                                                "q: {question} a:",
                                                "answer the question about the recording in a word or two. {question}",
                                            }},
                                       }};
  return prompts;
}

}  // namespace xib::audio
