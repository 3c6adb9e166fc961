// A model file's metadata is checked against its tensors before the network is built
// (models/checkpoint.h: check_srresnet_config, called by load_generator): the bundled model
// with width=4000 made srgan allocate about 17 GB, blocks=2000000000 grew without bound, and
// neither error named the file. Each edited copy here must be refused at once, naming the file
// and what disagrees; the unedited copy still loads.
#include <filesystem>
#include <string>

#include "core/check.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "tools/upscale/model_file.h"
#include "tests/test_common.h"

using namespace srgan;
using srgan::test::error_of;

namespace {

// The bundled model, re-saved with metadata[key] = value and without the tensor `drop`.
std::string edited_copy(const srgan::test::TempDir& dir, const std::string& key, const std::string& value,
                        const std::string& drop = "") {
  SafeTensors st = load_safetensors(app::default_model_path());
  st.metadata[key] = value;
  TensorList kept;
  for (auto& e : st.tensors)
    if (e.first != drop) kept.push_back(e);
  const std::string path = dir.file(key + "_" + value + (drop.empty() ? "" : "_no_" + drop) + ".safetensors");
  save_safetensors(path, kept, st.metadata);
  return path;
}

}  // namespace

TEST_CASE("model files: metadata that disagrees with the tensors is refused before building", "[model][errors]") {
  srgan::test::TempDir dir("model_checks");
  REQUIRE(load_safetensors(app::default_model_path()).metadata.at("blocks") == "10");  // the cases below assume it
  struct Case {
    std::string key, value, drop, says;
  };
  const std::vector<Case> cases = {
      {"width", "4000", "", "metadata says blocks=10 width=4000 but head.0.weight has shape (64, 9, 9, 3), not (4000, 9, 9, 3)"},
      {"width", "0", "", "metadata says blocks=10 width=0: blocks must be >= 0 and width >= 1"},
      {"blocks", "2000000000", "", "metadata says blocks=2000000000 width=64 but the file holds residual blocks body.0 to body.9"},
      {"blocks", "9", "", "metadata says blocks=9 width=64 but the file holds residual blocks body.0 to body.9"},
      {"blocks", "-1", "", "metadata says blocks=-1 width=64: blocks must be >= 0 and width >= 1"},
      // All of block 4 but its first conv kept: the count is right, the block is not there.
      {"blocks", "10", "body.4.c1.weight", "metadata says blocks=10 width=64 but the file holds no body.4.c1.weight"},
  };
  for (const Case& c : cases) {
    INFO(c.key << "=" << c.value << " without " << c.drop);
    const std::string path = edited_copy(dir, c.key, c.value, c.drop);
    CHECK(error_of([&] { app::load_generator(path, Device::cpu); }) == "model file '" + path + "': " + c.says);
  }
  const std::string same = edited_copy(dir, "blocks", "10");
  CHECK(app::load_generator(same, Device::cpu)->config().width == 64);
}

TEST_CASE("model files: gaps in the residual blocks are refused", "[model][errors]") {
  srgan::test::TempDir dir("model_gaps");
  SafeTensors st = load_safetensors(app::default_model_path());
  TensorList renamed;  // body.9.* renamed to body.12.*: ten blocks, numbered up to 12
  for (auto& [name, t] : st.tensors)
    renamed.emplace_back(name.rfind("body.9.", 0) == 0 ? "body.12." + name.substr(7) : name, t);
  const std::string path = dir.file("gaps.safetensors");
  save_safetensors(path, renamed, st.metadata);
  CHECK(error_of([&] { app::load_generator(path, Device::cpu); }) ==
        "model file '" + path +
            "': metadata says blocks=10 width=64 but the file holds residual blocks body.0 to body.12 with gaps");
}
