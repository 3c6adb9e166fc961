// libFuzzer harness: the safetensors reader (core/safetensors.h) on arbitrary bytes, and the
// model-file check (models/checkpoint.h) on whatever it accepts. The reader may refuse an input
// only with srgan::Error; what it accepts must lie inside the input (every tensor's bytes) and be
// finite. When the metadata describes an SRResNet that check_srresnet_config accepts, the network
// it would build must be about as large as the weights in the input (no 17 GB from a header).
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "core/check.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"

using namespace srgan;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SafeTensors st;
  try {
    st = load_safetensors_from_memory(data, size, "fuzz input");
  } catch (const Error&) {
    return 0;
  }
  size_t total = 0;
  for (const auto& [name, t] : st.tensors) {
    total += t.nbytes();
    const std::vector<double> v = t.to_vector_f64();
    for (double x : v)
      if (!std::isfinite(x)) std::abort();
  }
  if (total > size) std::abort();
  try {
    const SRResNetConfig cfg = srresnet_config_from_metadata(st.metadata, "fuzz input");
    check_srresnet_config(st, cfg, "fuzz input");
    // Accepted: head (w*243 floats) and each block's first conv (9 w^2 floats) are in the input.
    const double w = cfg.width, conv = 9.0 * w * w * 4;
    if (w * 243 * 4 + cfg.blocks * conv > double(size)) std::abort();
  } catch (const Error&) {
  }
  return 0;
}
