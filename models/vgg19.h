// VGG19 feature extractor for the SRGAN perceptual (content) loss, NHWC, frozen weights.
// Input: RGB in [0, 1], (N, H, W, 3). It is first normalised with ImageNet's statistics
// (x - mean) / std, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), by channel_affine,
// then run through torchvision's vgg19().features up to the chosen layer. Child "features" is a
// Sequential whose indices are torchvision's (0 conv1_1, 1 ReLU, 2 conv1_2, 3 ReLU, 4 pool,
// 5 conv2_1, ..., 7 conv2_2, 8 ReLU, ..., 34 conv5_4, 35 ReLU), so parameter names are
// "features.0.weight" ... "features.34.bias" and torchvision's state dict converts one-to-one
// (tools/scripts/convert_vgg19.py: weights KCRS -> KRSC, classifier.* dropped).
//
// Which feature map (Ledig et al. 2017 define phi_i,j as "the feature map obtained by the j-th
// convolution (after activation) before the i-th maxpooling layer"):
//   phi54() (the default): conv5_4 BEFORE its ReLU, features[:35]. This is what
//     ../shared/bench/srgan_torch.py's vgg19_54 and most modern implementations (ESRGAN's
//     argument: pre-activation features are denser and not clipped) use, so our parity and
//     benchmarks follow it.
//   phi22(): conv2_2 AFTER its ReLU, features[:9], the paper's definition (at this depth few
//     features are dead, and it is what common PyTorch SRGAN code uses for VGG22).
// Both choices can be overridden with after_relu. Parameters are frozen (requires_grad false) and
// must never join an optimizer's arena; gradients still flow through to the input image.
// width_divisor scales every width (64/d, 128/d, 256/d, 512/d) for tiny test networks.
#pragma once
#include <memory>

#include "layers/layers.h"

namespace srgan {

enum class VggLayer { conv2_2, conv5_4 };

struct VGG19Config {
  VggLayer layer = VggLayer::conv5_4;
  bool after_relu = false;     // include the ReLU that follows the chosen conv
  int width_divisor = 1;       // 1 for the real network; must divide 64
  bool normalize_input = true; // apply ImageNet normalisation of [0, 1] RGB input
  static VGG19Config phi54(int width_divisor = 1) { return {VggLayer::conv5_4, false, width_divisor, true}; }
  static VGG19Config phi22(int width_divisor = 1) { return {VggLayer::conv2_2, true, width_divisor, true}; }
};

class VGG19Features : public Module {
 public:
  explicit VGG19Features(const VGG19Config& cfg, Rng& rng);
  std::string type_name() const override { return "VGG19Features"; }
  const VGG19Config& config() const { return cfg_; }
  int out_channels() const;     // 128/d for conv2_2, 512/d for conv5_4
  int downsampling() const;     // 2 for conv2_2, 16 for conv5_4 (output is H/downsampling)
  int layer_count() const;      // number of torchvision feature layers kept (9 or 35 by default)
  // Sets requires_grad false on every parameter again (e.g. after loading weights) and eval().
  void freeze();

 protected:
  // (N, H, W, 3) in [0, 1] -> (N, H/s, W/s, out_channels()); H and W must be multiples of s
  Tensor forward(const Tensor& x) override;

 private:
  VGG19Config cfg_;
  std::shared_ptr<Sequential> features_;
  Tensor norm_scale_, norm_shift_;  // (3) each: 1/std and -mean/std, on the input's device/dtype
};

}  // namespace srgan
