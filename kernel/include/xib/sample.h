// Sample: one training or evaluation example as the data side hands it to the model — the input
// files per modality, the task, the instruction the aligners and the LLM see, and the answer.
// Torch-free; datasets (xib/dataset.h) produce them, the assembly (xib/assembly.h) consumes them.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace xib {

struct Sample {
  /// Names the input within its dataset ("coco:391895"); the captions of one image share it.
  /// Keys evaluation outputs.
  std::string id = {};
  /// Input files per modality name ("image" → {a.png}); a sample may carry several modalities.
  std::map<std::string, std::vector<std::filesystem::path>> inputs = {};
  /// "caption", "qa", … — chooses the instruction templates.
  std::string task = {};
  /// The text the aligners (Q-Former) and the LLM are instructed with.
  std::string instruction = {};
  /// The training target (one caption, or the chosen answer).
  std::string answer = {};
  /// Every accepted answer / reference caption (evaluation); answer is one of them.
  std::vector<std::string> references = {};
  /// Which dataset of a mixture it came from (its name in the recipe).
  std::string dataset = {};
};

}  // namespace xib
