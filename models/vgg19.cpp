// VGG19 feature extractor: torchvision's layer indices, ImageNet normalisation, frozen weights.
#include "models/vgg19.h"

#include "core/check.h"
#include "core/ops.h"

namespace srgan {

namespace {
// torchvision's vgg19 "E" configuration; 0 marks a 2x2 max pool.
const int kVgg19Cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0};
const double kMean[3] = {0.485, 0.456, 0.406};
const double kStd[3] = {0.229, 0.224, 0.225};
}  // namespace

int VGG19Features::layer_count() const {
  const int conv_index = cfg_.layer == VggLayer::conv2_2 ? 7 : 34;
  return conv_index + 1 + (cfg_.after_relu ? 1 : 0);
}

int VGG19Features::out_channels() const { return (cfg_.layer == VggLayer::conv2_2 ? 128 : 512) / cfg_.width_divisor; }
int VGG19Features::downsampling() const { return cfg_.layer == VggLayer::conv2_2 ? 2 : 16; }

VGG19Features::VGG19Features(const VGG19Config& cfg, Rng& rng) : cfg_(cfg) {
  if (cfg.width_divisor < 1 || 64 % cfg.width_divisor != 0)
    throw Error("VGG19Features: width_divisor must divide 64, got " + std::to_string(cfg.width_divisor));
  features_ = register_module("features", std::make_shared<Sequential>());
  const int n = layer_count();
  int c = 3;
  for (int v : kVgg19Cfg) {
    if (features_->size() >= n) break;
    if (v == 0) {
      features_->add(std::make_shared<MaxPool2x2>());
      continue;
    }
    const int k = v / cfg.width_divisor;
    features_->add(std::make_shared<Conv2d>(c, k, 3, 1, 1, rng));
    c = k;
    if (features_->size() >= n) break;
    features_->add(std::make_shared<ReLU>());
  }
  freeze();
}

void VGG19Features::freeze() {
  for (auto& [name, p] : named_parameters()) {
    Tensor t = p;
    t.set_requires_grad(false);
  }
  eval();
}

Tensor VGG19Features::forward(const Tensor& x) {
  const int s = downsampling();
  if (x.ndim() != 4 || x.dim(3) != 3 || x.dim(1) % s != 0 || x.dim(2) % s != 0)
    fail("VGG19Features", "input must be (N, H, W, 3) RGB in [0, 1] with H and W multiples of " + std::to_string(s) +
                              ", got shape " + shape_str(x.shape()));
  Tensor h = x;
  if (cfg_.normalize_input) {
    if (!norm_scale_.defined() || norm_scale_.device() != x.device() || norm_scale_.dtype() != x.dtype()) {
      std::vector<double> sc(3), sh(3);
      for (int c = 0; c < 3; ++c) {
        sc[c] = 1.0 / kStd[c];
        sh[c] = -kMean[c] / kStd[c];
      }
      Tensor a = Tensor::from_vector(sc, {3}), b = Tensor::from_vector(sh, {3});
      if (x.dtype() == DType::f32) {
        a = a.to(DType::f32);
        b = b.to(DType::f32);
      }
      norm_scale_ = a.to(x.device());
      norm_shift_ = b.to(x.device());
    }
    h = channel_affine(x, norm_scale_, norm_shift_);
  }
  return (*features_)(h);
}

}  // namespace srgan
