// Generator weights files: the bundled default and loading by metadata.
#include "tools/upscale/model_file.h"

#include <filesystem>

#include "core/check.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"

namespace srgan::app {

std::string default_model_path() {
  return (std::filesystem::path(SRGAN_SOURCE_DIR) / "models" / "pretrained" / "srresnet_x4.safetensors").string();
}

std::unique_ptr<SRResNet> load_generator(const std::string& path, Device device) {
  if (!std::filesystem::exists(path)) throw Error("model file " + path + " does not exist");
  SafeTensors st = load_safetensors(path);
  SRResNetConfig cfg = srresnet_config_from_metadata(st.metadata, path);
  check_srresnet_config(st, cfg, path);  // before the constructor allocates what the metadata says
  Rng rng(0);
  auto g = std::make_unique<SRResNet>(cfg, rng);
  load_generator_weights(path, *g);
  g->to(device);
  g->eval();
  return g;
}

void load_generator_weights(const std::string& path, SRResNet& g) {
  SafeTensors st = load_safetensors(path);
  const bool prefixed = st.find("G.head.0.weight").defined();
  if (!prefixed) {
    load_tensors(path, module_state(g, ""), true);
    return;
  }
  // A training checkpoint also holds D and optimizer state: skip those, but not a missing G name.
  LoadReport r = load_tensors(path, module_state(g, "G."), false);
  if (!r.missing.empty()) {
    std::string names;
    for (auto& n : r.missing) names += (names.empty() ? "" : ", ") + n;
    throw Error(path + ": checkpoint lacks generator tensors: " + names);
  }
}

}  // namespace srgan::app
