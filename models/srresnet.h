// The SRResNet generator of Ledig et al. 2017 (the "G" of SRGAN), 4x upscaling, NHWC:
//   head: conv 9x9 3->F + PReLU
//   body: B residual blocks, each conv3x3-BN-PReLU-conv3x3-BN plus identity skip
//   mid:  conv3x3-BN, added to the head output (long skip)
//   up:   twice (conv3x3 F->4F, pixel shuffle x2, PReLU)
//   tail: conv 9x9 F->3
// The upsampler convolutions start ICNR-initialised (Aitken et al. 2017, "Checkerboard artifact
// free sub-pixel convolution"): pixel shuffle sends output channels 4c..4c+3 of a conv to the
// 2x2 block of output channel c (kernels/pixel_shuffle.h: channel c*r*r + i*r + j -> offset
// (i, j)), so those four channels start with equal weights and biases, and a new generator's
// upsampler output is constant within every 2x2 block: no checkerboard before training. Only
// initial values change; loading a weights file overwrites them, and nothing is written to files.
// Parameter names follow ../shared/bench/srgan_torch.py (head.0.weight, body.3.c1.weight, ...),
// so a PyTorch state dict converts one-to-one (weights permuted KCRS -> KRSC).
// In eval mode with autograd off (Module::fuse_for_inference) the forward runs each convolution
// with what follows it as one fused op (layers/fused_eval.h): batch norms folded in, PReLUs and
// the skips' additions in the convolution's epilogue (the upsamplers' PReLU, one slope, before
// the pixel shuffle, which it commutes with).
#pragma once
#include <memory>

#include "layers/layers.h"

namespace srgan {

struct SRResNetConfig {
  int blocks = 16;
  int width = 64;
  bool icnr = true;  // ICNR initialisation of the upsampler convolutions (not saved: init only)
};

// ICNR (Aitken et al. 2017) for a convolution followed by pixel_shuffle(r): every group of r*r
// consecutive output channels takes the weights and bias of the group's first channel, which
// keeps the layer's default distribution (its bound depends only on the fan-in). In place, any
// device and dtype. The output channels must be a multiple of r*r.
void icnr_init(Conv2d& conv, int r);

class ResidualBlock : public Module {
 public:
  ResidualBlock(int width, Rng& rng);
  std::string type_name() const override { return "ResidualBlock"; }
  std::shared_ptr<Conv2d> c1, c2;
  std::shared_ptr<BatchNorm2d> b1, b2;
  std::shared_ptr<PReLU> p;

 protected:
  Tensor forward(const Tensor& x) override;
};

class SRResNet : public Module {
 public:
  SRResNet(const SRResNetConfig& cfg, Rng& rng);
  std::string type_name() const override { return "SRResNet"; }
  const SRResNetConfig& config() const { return cfg_; }
  static constexpr int scale = 4;

 protected:
  Tensor forward(const Tensor& x) override;  // (N, h, w, 3) -> (N, 4h, 4w, 3)

 private:
  SRResNetConfig cfg_;
  std::shared_ptr<Sequential> head_, body_, mid_, up_;
  std::shared_ptr<Conv2d> tail_;
  // The layers inside head_, mid_ and up_, for the fused inference forward (layers/fused_eval.h).
  std::shared_ptr<Conv2d> head_conv_, mid_conv_, up_conv_[2];
  std::shared_ptr<PReLU> head_act_, up_act_[2];
  std::shared_ptr<BatchNorm2d> mid_bn_;
};

}  // namespace srgan
