// The SRGAN discriminator of Ledig et al. 2017 (the "D"), NHWC, producing one logit per image:
//   f.0  conv3x3 3->w, stride 1            f.1  LeakyReLU(0.2)
//   seven blocks conv3x3-BN-LeakyReLU(0.2) with widths w,2w,2w,4w,4w,8w,8w and strides
//   2,1,2,1,2,1,2 (f.2..f.22: conv at 2+3i, BN at 3+3i, LeakyReLU at 4+3i)
//   h.0  Flatten    h.1 Linear(8w*(crop/16)^2 -> dense)    h.2 LeakyReLU(0.2)    h.3 Linear(dense -> 1)
// With w = 64 and dense = 1024 this is ../shared/bench/srgan_torch.py's Discriminator, names
// included (f.0.weight ... h.1.weight, h.3.weight), so a PyTorch state dict converts one-to-one.
// Conversion note: our Flatten is NHWC-ordered (h, w, c), PyTorch's NCHW-ordered (c, h, w). The
// input columns of h.1.weight must therefore be permuted on conversion: ours[:, (y*W + x)*C + c] =
// torch[:, c*H*W + y*W + x] (tools/scripts/convert_srgan.py does it both ways). The crop must be a multiple
// of 16 (four stride-2 convolutions), and D only accepts inputs of exactly that crop size.
// forward_features() also hands out the intermediate activations, after each of the eight
// LeakyReLUs of f (f.1, f.4, ..., f.22), for the feature-matching loss (models/losses.h).
#pragma once
#include <memory>
#include <vector>

#include "layers/layers.h"

namespace srgan {

struct DiscriminatorConfig {
  int crop = 96;     // HR crop size (square), a multiple of 16
  int width = 64;    // channels of the first conv; the blocks use 1,1,2,2,4,4,8,8 times it
  int dense = 1024;  // hidden units of the first Linear
  double slope = 0.2;
};

class Discriminator : public Module {
 public:
  Discriminator(const DiscriminatorConfig& cfg, Rng& rng);
  std::string type_name() const override { return "Discriminator"; }
  const DiscriminatorConfig& config() const { return cfg_; }
  int64_t flat_features() const;  // 8w * (crop/16)^2, the first Linear's input size
  static constexpr int feature_layers = 8;  // activations forward_features() hands out
  // The logits (N, 1), and when `features` is given, the eight activations after f's LeakyReLUs
  // appended to it in order: (N, crop, crop, w), (N, crop/2, crop/2, w), (crop/2, 2w),
  // (crop/4, 2w), (crop/4, 4w), (crop/8, 4w), (crop/8, 8w), (crop/16, 8w). One forward either way.
  Tensor forward_features(const Tensor& x, std::vector<Tensor>* features);

 protected:
  Tensor forward(const Tensor& x) override;  // (N, crop, crop, 3) -> logits (N, 1)

 private:
  DiscriminatorConfig cfg_;
  std::shared_ptr<Sequential> f_, h_;
  std::vector<std::shared_ptr<Module>> f_layers_;  // f's children in order, to tap activations
  std::vector<bool> f_tap_;                         // true after each LeakyReLU of f
};

}  // namespace srgan
