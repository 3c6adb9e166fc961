// Checkpoints: a Module's parameters and buffers (by PyTorch-style name) in a safetensors file,
// plus any extra named tensors (optimizer moments) and string metadata (architecture, step, RNG
// state...), for weights files and for the training loop's resumable checkpoints.
//
// Loading copies into the existing tensors (same identity, device and arena views; f32 <-> f64
// converted), after checking everything first: one error names the file and lists EVERY missing,
// unexpected and mis-shaped name, so a mismatched checkpoint is diagnosed in one go. Nothing is
// modified when the check fails.
//
// Architecture metadata ("arch", "blocks", "width", "crop", ...) lets a command rebuild the right
// model from a weights file; the *_metadata / *_from_metadata helpers write and read it.
#pragma once
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "layers/module.h"
#include "models/discriminator.h"
#include "models/srresnet.h"
#include "models/vgg19.h"

namespace srgan {

struct LoadReport {
  std::vector<std::string> missing;     // in the targets, not in the file (only when !strict)
  std::vector<std::string> unexpected;  // in the file, not in the targets (only when !strict)
  std::vector<std::string> loaded;      // names copied
  Metadata metadata;                    // the file's __metadata__
};

// Parameters then buffers of `m`, each name prefixed (e.g. "G." -> "G.head.0.weight").
TensorList module_state(const Module& m, const std::string& prefix = "");

// ---- generic: any list of named tensors ----
void save_tensors(const std::string& path, const TensorList& tensors, const Metadata& metadata = {});
// Copies the file's tensors into `targets` by name. strict: missing or unexpected names are
// errors; not strict: they are reported in the LoadReport and skipped. A shape mismatch is always
// an error. All problems go into one srgan::Error naming the file.
LoadReport load_tensors(const std::string& path, const TensorList& targets, bool strict = true);

// ---- modules ----
void save_module(const std::string& path, const Module& m, const Metadata& metadata = {});
LoadReport load_module(const std::string& path, Module& m, bool strict = true);

// ---- architecture metadata ----
Metadata srresnet_metadata(const SRResNetConfig& cfg);          // arch=srresnet, blocks, width, scale
Metadata discriminator_metadata(const DiscriminatorConfig& cfg);  // arch=srgan_discriminator, crop, width, dense
Metadata vgg19_metadata(const VGG19Config& cfg);                // arch=vgg19_features, layer, after_relu, width_divisor
// Read a config back; `path` only names the file in errors (missing key, wrong arch, bad number).
SRResNetConfig srresnet_config_from_metadata(const Metadata& m, const std::string& path);
// Before a generator is built from a file's metadata: `cfg` must agree with the file's tensors
// (names plain or prefixed "G."): head.0.weight of shape (width, 9, 9, 3), residual blocks body.0
// to body.<blocks - 1> and no more. So the network built is about as large as the weights the
// file holds: a header edited to say width=4000 or blocks=2000000000 is refused before the
// constructor would allocate gigabytes. Errors name the file.
void check_srresnet_config(const SafeTensors& file, const SRResNetConfig& cfg, const std::string& path);
DiscriminatorConfig discriminator_config_from_metadata(const Metadata& m, const std::string& path);
VGG19Config vgg19_config_from_metadata(const Metadata& m, const std::string& path);

}  // namespace srgan
