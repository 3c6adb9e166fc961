// Docs that quote code stay true: every ```cpp block of docs/how-srgan-trains.md must appear,
// line for line, in tools/train/train_step.cpp (the walk-through quotes the real GAN step).
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_common.h"

namespace {

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The ```cpp ... ``` blocks of a markdown file, each as its lines.
std::vector<std::vector<std::string>> cpp_blocks(const std::vector<std::string>& md) {
  std::vector<std::vector<std::string>> blocks;
  bool in_block = false;
  for (const auto& l : md) {
    if (!in_block && l == "```cpp") {
      in_block = true;
      blocks.emplace_back();
    } else if (in_block && l == "```") {
      in_block = false;
    } else if (in_block) {
      blocks.back().push_back(l);
    }
  }
  REQUIRE_FALSE(in_block);  // an unclosed block
  return blocks;
}

bool contains_run(const std::vector<std::string>& text, const std::vector<std::string>& run) {
  if (run.empty() || run.size() > text.size()) return false;
  for (size_t i = 0; i + run.size() <= text.size(); ++i) {
    size_t k = 0;
    while (k < run.size() && text[i + k] == run[k]) ++k;
    if (k == run.size()) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("how-srgan-trains.md quotes tools/train/train_step.cpp verbatim", "[docs]") {
  const std::string root = SRGAN_SOURCE_DIR_FOR_TESTS;
  const auto doc = lines_of(root + "/docs/how-srgan-trains.md");
  const auto code = lines_of(root + "/tools/train/train_step.cpp");
  const auto blocks = cpp_blocks(doc);
  REQUIRE(blocks.size() >= 3);  // gan_step and its two segments
  bool quotes_gan_step = false;
  for (const auto& b : blocks) {
    std::ostringstream text;
    for (const auto& l : b) text << l << "\n";
    INFO("the block:\n" << text.str());
    CHECK(contains_run(code, b));
    quotes_gan_step |= !b.empty() && b.front().rfind("LossTerms gan_step(", 0) == 0;
  }
  CHECK(quotes_gan_step);
}
