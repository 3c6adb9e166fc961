// Image <-> tensor conversions and whole-image generator inference.
#include "tools/upscale/tensor_image.h"

#include <cmath>
#include <stdexcept>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/check.h"
#include "core/device.h"

namespace srgan::app {

Tensor image_to_tensor(const data::Image& img, Device device) {
  if (img.channels != 1 && img.channels != 3)
    throw Error("image_to_tensor: expected 1 or 3 channels, got " + std::to_string(img.channels));
  std::vector<float> v(img.pixels() * 3);  // (H, W, 3)
  for (size_t i = 0; i < img.pixels(); ++i)
    for (int c = 0; c < 3; ++c) v[i * 3 + c] = float(img.data[i * img.channels + (img.channels == 1 ? 0 : c)]) / 255.0f;
  return Tensor::from_vector(v, {1, img.height, img.width, 3}, device);
}

data::Image tensor_to_image(const Tensor& t, int channels, const std::string& what) {
  if (t.ndim() != 4 || t.dim(0) != 1 || t.dim(3) != 3)
    throw Error("tensor_to_image: expected (1, H, W, 3), got " + shape_str(t.shape()));
  std::vector<float> v = t.to_vector();
  const int H = int(t.dim(1)), W = int(t.dim(2));
  data::Image out(W, H, channels);
  for (size_t i = 0; i < size_t(H) * W; ++i) {
    float px[3];
    for (int c = 0; c < 3; ++c) {
      float f = v[i * 3 + c];
      if (!std::isfinite(f))
        throw Error(what + ": the network produced a non-finite value (" + std::to_string(f) + ") at pixel (" +
                    std::to_string(i % W) + ", " + std::to_string(i / W) + ")");
      px[c] = std::fmin(1.0f, std::fmax(0.0f, f));
    }
    if (channels == 1) {
      out.data[i] = uint8_t(std::floor((px[0] + px[1] + px[2]) / 3.0f * 255.0f + 0.5f));
    } else {
      for (int c = 0; c < 3; ++c) out.data[i * 3 + c] = uint8_t(std::floor(px[c] * 255.0f + 0.5f));
    }
  }
  return out;
}

data::Image upscale_whole(SRResNet& g, const data::Image& lr, Device device) {
  NoGradGuard ng;
  EvalModeGuard eval(g);
  Tensor y = g(image_to_tensor(lr, device));
  return tensor_to_image(y, lr.channels, "upscale");
}

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") {
    if (!cuda_available())
      throw Error(cuda_compiled() ? "--device cuda: no CUDA device is present"
                                  : "--device cuda: this build has no CUDA support");
    return Device::cuda;
  }
  if (name == "auto") return cuda_available() ? Device::cuda : Device::cpu;
  throw Error("--device must be auto, cpu or cuda, got '" + name + "'");
}

void apply_precision(Device device, const std::string& name) {
  check_precision_name(name);
  if (device == Device::cuda) return set_cuda_precision(name);
  if (name != "fp32")
    throw Error("--precision " + name + ": the CPU path computes in fp32 only (tf32 and bf16 are for --device cuda)");
}

}  // namespace srgan::app
