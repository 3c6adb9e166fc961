// Finding and loading generator weights: the bundled model's path, and an SRResNet rebuilt from
// a weights file's architecture metadata (so any size trained by `srgan train` loads).
#pragma once
#include <memory>
#include <string>

#include "models/srresnet.h"

namespace srgan::app {

// models/pretrained/srresnet_x4.safetensors in the source tree this binary was built from.
std::string default_model_path();

// Reads the file's metadata (arch=srresnet, blocks, width), checks it against the tensors'
// shapes (models/checkpoint.h: check_srresnet_config), builds the generator, loads every
// weight strictly (a wrong architecture lists every mismatched name), moves it to `device`,
// and puts it in eval mode. Accepts G-only weights files and full training checkpoints ("G.").
std::unique_ptr<SRResNet> load_generator(const std::string& path, Device device);

// Loads a G-only weights file or the "G." part of a training checkpoint into `g`; every
// generator name must be present with its shape (errors list all that are not).
void load_generator_weights(const std::string& path, SRResNet& g);

}  // namespace srgan::app
