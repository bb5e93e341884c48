// The instruction templates, written for xib (our own wording; none copied from upstream's
// lists). Data only: lookup and filling live in instructions.cpp. Captioning templates ask for
// a description; QA templates embed the question as "{question}".
#include "xib/datasets/templates.h"

namespace xib::datasets {

const std::map<std::pair<std::string, std::string>, std::vector<std::string>>& template_table() {
  static const std::map<std::pair<std::string, std::string>, std::vector<std::string>> table = {
      {{"image", "caption"},
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
      {{"video", "caption"},
       {
           "a short description",
           "describe the video briefly.",
           "write a short caption for this clip.",
           "what happens in the video? answer in one sentence.",
           "give a brief description of the footage.",
           "summarise the events of this video.",
           "caption this video.",
           "in a few words, what does the clip show?",
       }},
      {{"audio", "caption"},
       {
           "a short description",
           "describe the audio briefly.",
           "write a short caption for this recording.",
           "what can be heard in the audio? answer in one sentence.",
           "give a brief description of the sounds.",
           "summarise what this recording contains.",
           "caption this sound clip.",
           "in a few words, what do you hear?",
       }},
      {{"pc", "caption"},
       {
           "a short description",
           "describe the 3d object briefly.",
           "write a short caption for this 3d model.",
           "what object is this? answer in one sentence.",
           "give a brief description of the shape.",
           "summarise what this 3d model depicts.",
           "caption this 3d object.",
           "in a few words, what does the point cloud show?",
       }},
      {{"image", "qa"},
       {
           "{question}",
           "question: {question} short answer:",
           "{question} answer briefly.",
           "look at the image and answer: {question}",
           "given the picture, {question} reply in a few words.",
           "q: {question} a:",
           "answer the question about the image in a word or two. {question}",
       }},
      {{"video", "qa"},
       {
           "{question}",
           "question: {question} short answer:",
           "{question} answer briefly.",
           "watch the video and answer: {question}",
           "given the clip, {question} reply in a few words.",
           "q: {question} a:",
           "answer the question about the video in a word or two. {question}",
       }},
      {{"audio", "qa"},
       {
           "{question}",
           "question: {question} short answer:",
           "{question} answer briefly.",
           "listen to the audio and answer: {question}",
           "given the recording, {question} reply in a few words.",
           "q: {question} a:",
           "answer the question about the sound in a word or two. {question}",
       }},
      {{"pc", "qa"},
       {
           "{question}",
           "question: {question} short answer:",
           "{question} answer briefly.",
           "look at the 3d object and answer: {question}",
           "given the 3d model, {question} reply in a few words.",
           "q: {question} a:",
           "answer the question about the object in a word or two. {question}",
       }},
  };
  return table;
}

}  // namespace xib::datasets
