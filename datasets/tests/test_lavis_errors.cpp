// Every refusal of the LAVIS readers: missing files and folders, malformed JSON, bad entries
// (all at once, capped), missing input files, bad options.
#include <doctest/doctest.h>

#include "dataset_test_support.h"
#include "xib/prompts.h"

using namespace xib;
using namespace xib::datasets;
using xib::test::open_lavis;
using xib::test::report_of;

namespace {
bool has(const std::string& text, const std::string& part) {
  INFO(text);
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("a missing annotation file or root folder is an IoError naming the path") {
  const std::string file = report_of<IoError>([] { open_lavis("{reader: caption, path: nowhere.json}"); });
  CHECK(has(file, "annotation file not found"));
  CHECK(has(file, "nowhere.json"));
  const std::string root =
      report_of<IoError>([] { open_lavis("{reader: caption, path: caption_train.json, root: no_such_dir}"); });
  CHECK(has(root, "root folder not found"));
  CHECK(has(root, "no_such_dir"));
  CHECK(has(report_of<IoError>([] { open_lavis("{reader: caption, path: images}"); }), "not a regular file"));
}

TEST_CASE("malformed JSON and a non-list document are FormatErrors") {
  const std::string bad = report_of<FormatError>([] { open_lavis("{reader: caption, path: malformed.json}"); });
  CHECK(has(bad, "malformed JSON"));
  CHECK(has(bad, "malformed.json (byte"));
  const std::string dict = report_of<FormatError>([] { open_lavis("{reader: caption, path: not_a_list.json}"); });
  CHECK(has(dict, "not a list of entries"));
  CHECK(has(dict, "a JSON object"));
  // Found by `make fuzz` (annotations): a number too large for a double is nlohmann's
  // out_of_range, not a parse_error, and escaped.
  const std::string big = report_of<FormatError>([] { open_lavis("{reader: caption, path: number_overflow.json}"); });
  CHECK(has(big, "malformed JSON"));
  CHECK(has(big, "number overflow"));
}

TEST_CASE("every bad entry is reported at once, with its index and field, capped at ten") {
  const std::string r = report_of<FormatError>([] { open_lavis("{reader: caption, path: caption_bad_entries.json}"); });
  CHECK(has(r, "12 of 14 entries"));
  CHECK(has(r, "caption_bad_entries.json"));
  CHECK(has(r, "entry 1: is string, expected an object"));
  CHECK(has(r, "entry 2: missing 'image'"));
  CHECK(has(r, "entry 3: missing 'caption'"));
  CHECK(has(r, "entry 4: 'image' is 5, expected a file path"));
  CHECK(has(r, "entry 5: 'caption' is [], expected a string or a non-empty list"));
  CHECK(has(r, "entry 6: 'caption'[1] is 3, expected a string"));
  CHECK(has(r, "entry 7: 'image_id' is [1], expected a string or an integer"));
  CHECK(has(r, "entry 8: 'image' is \"\""));
  CHECK(has(r, "2 more"));
  CHECK(!has(r, "entry 0:"));
  CHECK(!has(r, "entry 12:"));
  // limit: only the first entries are read, so only their problems count.
  const std::string limited =
      report_of<FormatError>([] { open_lavis("{reader: caption, path: caption_bad_entries.json, limit: 3}"); });
  CHECK(has(limited, "2 of 3 entries"));
}

TEST_CASE("bad qa entries name their fields") {
  const std::string r = report_of<FormatError>([] { open_lavis("{reader: qa, path: vqa_bad_entries.json}"); });
  CHECK(has(r, "4 of 4 entries"));
  CHECK(has(r, "entry 0: missing 'question'"));
  CHECK(has(r, "entry 1: missing 'answer'"));
  CHECK(has(r, "entry 2: 'question' is 3, expected a string"));
  CHECK(has(r, "entry 3: 'question_id' is 1.5"));
  // A caption file read as qa: every entry lacks both its question and its answer, and an entry
  // counts once however many problems it has.
  const std::string both = report_of<FormatError>([] { open_lavis("{reader: qa, path: caption_train.json}"); });
  CHECK(has(both, "4 of 4 entries"));
  CHECK(has(both, "entry 0: missing 'question'"));
  CHECK(has(both, "entry 0: missing 'answer'"));
}

TEST_CASE("missing input files are counted, with examples, unless check_files is off") {
  const std::string r = report_of<IoError>([] { open_lavis("{reader: caption, path: caption_missing_files.json}"); });
  CHECK(has(r, "7 of 10 input files"));
  CHECK(has(r, "entry 3: "));
  CHECK(has(r, "0004.png"));
  CHECK(has(r, "2 more"));
  CHECK(has(r, "check_files: false"));
  CHECK(!has(r, "0001.png"));
  CHECK(open_lavis("{reader: caption, path: caption_missing_files.json, check_files: false}").size() == 10);
}

TEST_CASE("a file name the system refuses (over 255 bytes) is a missing file, not a filesystem_error") {
  // Found by `make fuzz` (annotations): std::filesystem::exists threw for it.
  const std::string r = report_of<IoError>([] { open_lavis("{reader: caption, path: caption_long_file_name.json}"); });
  CHECK(has(r, "1 of 2 input files"));
  CHECK(has(r, "entry 1: "));
  CHECK(open_lavis("{reader: caption, path: caption_long_file_name.json, check_files: false}").size() == 2);
}

TEST_CASE("bad options are ConfigErrors, each pointing at its key") {
  CHECK(has(report_of<ConfigError>([] { open_lavis("{reader: captoin, path: caption_train.json}"); }),
            "did you mean 'caption'"));
  CHECK(has(report_of<ConfigError>([] { open_lavis("{reader: caption}"); }), "path"));
  CHECK(has(report_of<ConfigError>([] { open_lavis("{reader: caption, path: caption_train.json, modality: imgae}"); }),
            "did you mean 'image'"));
  CHECK(has(report_of<ConfigError>([] { open_lavis("{reader: caption, path: caption_train.json, task: captoin}"); }),
            "did you mean 'caption'"));
  CHECK(
      has(report_of<ConfigError>([] { open_lavis("{reader: qa, path: vqa_train.json, instructions: ['answer it']}"); }),
          "{question}"));
  CHECK(has(report_of<ConfigError>(
                [] { open_lavis("{reader: caption, path: caption_train.json, instructions: ['{question}']}"); }),
            "without {question}"));
  CHECK_THROWS_AS(open_lavis("{reader: caption, path: caption_train.json, instructions: []}"), ConfigError);
  CHECK_THROWS_AS(open_lavis("{reader: caption, path: caption_train.json, limit: 0}"), ConfigError);
  CHECK_THROWS_AS(open_lavis("{reader: caption, path: caption_train.json, file_key: ''}"), ConfigError);
  CHECK(
      has(report_of<ConfigError>([] { open_lavis("{reader: caption, path: caption_train.json, limt: 2}"); }), "limit"));
  // A modality without templates is fine once the section brings its own instructions.
  CHECK(open_lavis("{reader: caption, path: caption_train.json, modality: thermal, instructions: [describe.]}")
            .modalities() == std::vector<std::string>{"thermal"});
}

TEST_CASE("unknown template lookups list what exists") {
  xib::test::register_test_prompts();
  const std::string r = report_of<NotFoundError>([] { instruction_templates("image", "captoin"); });
  CHECK(has(r, "did you mean 'caption'"));
  CHECK(has(r, "caption, qa"));
  CHECK(has(report_of<NotFoundError>([] { instruction_templates("vidoe", "qa"); }), "did you mean 'video'"));
  // A reader section naming a modality whose plugin (and so whose templates) is not loaded.
  CHECK(
      has(report_of<ConfigError>([] { open_lavis("{reader: caption, path: caption_train.json, modality: thermal}"); }),
          "whose plugin is loaded"));
}
