// The bridge between data/ images (uint8 HWC) and engine tensors (float NHWC in [0, 1]), and
// running the generator on one image. Gray images go through the network as RGB (replicated)
// and come back gray (mean of the three channels).
#pragma once
#include "core/tensor.h"
#include "data/image.h"
#include "models/srresnet.h"

namespace srgan::app {

// (1, H, W, 3) in [0, 1]; gray is replicated, alpha must have been removed by the caller.
Tensor image_to_tensor(const data::Image& img, Device device);
// (1, H, W, 3) -> uint8 with `channels` 3 (RGB) or 1 (mean of RGB); clamped to [0, 1] and
// rounded. Throws naming `what` if any value is NaN or infinite.
data::Image tensor_to_image(const Tensor& t, int channels, const std::string& what);

// G on a whole image (no tiling), eval mode, no graph. Returns the same channel count.
data::Image upscale_whole(SRResNet& g, const data::Image& lr, Device device);

// "auto" -> cuda when a device is present, else cpu; "cpu"; "cuda" (error if unavailable).
Device parse_device(const std::string& name);
// `--precision fp32|tf32|bf16` on `device`: selects the CUDA kernels (core/backend.h); on the CPU only
// fp32 is accepted (the CPU path always computes in fp32).
void apply_precision(Device device, const std::string& name);

}  // namespace srgan::app
