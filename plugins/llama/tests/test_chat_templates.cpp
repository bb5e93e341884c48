// Chat templates (chat_template.h, llama_tokenizer.h render_chat): Vicuna v1.1 against FastChat's
// own get_conv_template("vicuna_v1.1").get_prompt() (recorded in sp_cases.json by
// tools/fixtures/llama/make_sp_fixture.py), the choice of format from metadata and the option.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat_template.h"
#include "llama_tokenizer.h"
#include "test_support.h"
#include "xib/error.h"

using namespace xib::llama;
using xib::ChatMessage;

namespace {

nlohmann::json prompt_cases() {
  std::ifstream in(xib::test::source_dir() / "plugins/llama/tests/data/sp_cases.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in)["vicuna_prompts"];
}

std::vector<ChatMessage> messages_of(const nlohmann::json& j) {
  std::vector<ChatMessage> out;
  for (const auto& m : j) out.push_back({.role = m["role"], .content = m["content"]});
  return out;
}

const std::string kSys = kVicunaV11DefaultSystem;

}  // namespace

TEST_CASE("chat: Vicuna v1.1 matches FastChat's conversation template") {
  const auto cases = prompt_cases();
  REQUIRE(cases.size() >= 5);
  for (const auto& c : cases) {
    const auto msgs = messages_of(c["messages"]);
    CAPTURE(c["prompt"].get<std::string>());
    CHECK(render_vicuna_v11(msgs, c["add_generation_prompt"].get<bool>()) == c["prompt"].get<std::string>());
  }
}

TEST_CASE("chat: Vicuna v1.1 exact strings") {
  CHECK(kSys ==
        "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
        "detailed, and polite answers to the user's questions.");
  CHECK(render_vicuna_v11({{.role = "user", .content = "Hi"}}) == kSys + " USER: Hi ASSISTANT:");
  CHECK(render_vicuna_v11({{.role = "user", .content = "Hi"}, {.role = "assistant", .content = "Yo"}}, false) ==
        kSys + " USER: Hi ASSISTANT: Yo</s>");
  CHECK(render_vicuna_v11({}, true) == kSys + " ASSISTANT:");
  CHECK_THROWS_AS(render_vicuna_v11({{.role = "assistant", .content = "x"}}), xib::UsageError);
  CHECK_THROWS_AS(render_vicuna_v11({{.role = "user", .content = "a"}, {.role = "user", .content = "b"}}),
                  xib::UsageError);
  CHECK_THROWS_AS(render_vicuna_v11({{.role = "user", .content = "a"}, {.role = "system", .content = "b"}}),
                  xib::UsageError);
}

TEST_CASE("chat: the format is chosen from the template, the name, or the option") {
  const std::string chatml = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";
  const std::string vicuna = "{{ system }} USER: {{ m.content }} ASSISTANT:";
  CHECK(choose_chat_style("auto", chatml, "x") == ChatStyle::chatml);
  CHECK(choose_chat_style("auto", vicuna, "x") == ChatStyle::vicuna_v1_1);
  CHECK(choose_chat_style("auto", "", "vicuna-7b-v1.1") == ChatStyle::vicuna_v1_1);
  CHECK(choose_chat_style("auto", "", "Vicuna-13B") == ChatStyle::vicuna_v1_1);
  CHECK(choose_chat_style("auto", "", "llama-7b") == ChatStyle::none);
  CHECK(choose_chat_style("auto", "[INST] {{ m }} [/INST]", "vicuna") == ChatStyle::none);  // a template wins
  CHECK(choose_chat_style("vicuna_v1.1", chatml, "x") == ChatStyle::vicuna_v1_1);
  CHECK(choose_chat_style("chatml", "", "vicuna") == ChatStyle::chatml);
  CHECK(choose_chat_style("none", chatml, "x") == ChatStyle::none);
  CHECK_THROWS_AS(choose_chat_style("vicuna", "", "x"), xib::ConfigError);
  for (const auto& n : chat_template_names()) {
    if (n != "auto") CHECK(chat_style_name(choose_chat_style(n, "", "")) == n);
  }
}

TEST_CASE("chat: render_chat follows the option") {
  const std::vector<ChatMessage> msgs = {{.role = "user", .content = "What is this?"}};
  const std::string smol = std::string("{% if messages[0]['role'] != 'system' %}<|im_start|>system\n") +
                           kSmolLM2DefaultSystem + "<|im_end|>\n{% endif %}<|im_start|>…";
  CHECK(render_chat("auto", "", msgs, true, "vicuna-7b-v1.1") == kSys + " USER: What is this? ASSISTANT:");
  CHECK(render_chat("vicuna_v1.1", smol, msgs, true, "smol") == kSys + " USER: What is this? ASSISTANT:");
  // auto with a ChatML template: as before (SmolLM2's default system prompt).
  CHECK(render_chat("auto", smol, msgs, true, "smol") == chatml_user_prompt("What is this?"));
  // chatml forced on a model without a template: no default system prompt.
  CHECK(render_chat("chatml", "", msgs, true, "vicuna") ==
        "<|im_start|>user\nWhat is this?<|im_end|>\n<|im_start|>assistant\n");
  CHECK_THROWS_AS(render_chat("none", smol, msgs, true, "smol"), xib::NotFoundError);
  CHECK_THROWS_AS(render_chat("auto", "", msgs, true, "llama-7b"), xib::NotFoundError);
  CHECK_THROWS_AS(render_chat("auto", "[INST] {{ x }} [/INST]", msgs, true, "llama-2"), xib::ConfigError);
}
