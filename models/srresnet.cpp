// SRResNet generator: construction with PyTorch-style names, and the forward pass.
#include "models/srresnet.h"

#include <algorithm>
#include <vector>

#include "core/check.h"
#include "core/ops.h"
#include "layers/fused_eval.h"

namespace srgan {

namespace {

// Rows g*r2 + 1 .. g*r2 + r2-1 of t (viewed as (K, rest)) become copies of row g*r2.
void replicate_groups(Tensor& t, int r2) {
  const int64_t K = t.dim(0), row = t.numel() / K;
  std::vector<double> v = t.to_vector_f64();  // (K, row)
  for (int64_t k = 0; k < K; ++k)
    if (k % r2 != 0) std::copy_n(v.begin() + (k - k % r2) * row, row, v.begin() + k * row);
  Tensor host = Tensor::from_vector(v, t.shape());  // f64 on the CPU
  t.copy_from(t.dtype() == DType::f64 ? host : host.to(t.dtype()));
}

}  // namespace

void icnr_init(Conv2d& conv, int r) {
  const int r2 = r * r;
  if (r < 1 || conv.out_channels % r2 != 0)
    throw Error("icnr_init: " + std::to_string(conv.out_channels) + " output channels are not a multiple of r*r = " +
                std::to_string(r2));
  replicate_groups(conv.weight, r2);  // (K, R, S, C): row k is output channel k
  if (conv.bias.defined()) replicate_groups(conv.bias, r2);
}

ResidualBlock::ResidualBlock(int f, Rng& rng) {
  c1 = register_module("c1", std::make_shared<Conv2d>(f, f, 3, 1, 1, rng));
  b1 = register_module("b1", std::make_shared<BatchNorm2d>(f));
  p = register_module("p", std::make_shared<PReLU>());
  c2 = register_module("c2", std::make_shared<Conv2d>(f, f, 3, 1, 1, rng));
  b2 = register_module("b2", std::make_shared<BatchNorm2d>(f));
}

Tensor ResidualBlock::forward(const Tensor& x) {
  if (fuse_for_inference()) {
    Tensor h = conv_bn_prelu_eval(x, *c1, b1.get(), p.get());
    return conv_bn_prelu_eval(h, *c2, b2.get(), nullptr, x);  // x + b2(c2(h))
  }
  Tensor h = (*p)((*b1)((*c1)(x)));
  return add(x, (*b2)((*c2)(h)));
}

SRResNet::SRResNet(const SRResNetConfig& cfg, Rng& rng) : cfg_(cfg) {
  if (cfg.blocks < 0 || cfg.width < 1) throw Error("SRResNet: blocks must be >= 0 and width >= 1");
  const int f = cfg.width;
  head_ = register_module("head", std::make_shared<Sequential>());
  head_conv_ = head_->add(std::make_shared<Conv2d>(3, f, 9, 1, 4, rng));
  head_act_ = head_->add(std::make_shared<PReLU>());
  body_ = register_module("body", std::make_shared<Sequential>());
  for (int i = 0; i < cfg.blocks; ++i) body_->add(std::make_shared<ResidualBlock>(f, rng));
  mid_ = register_module("mid", std::make_shared<Sequential>());
  mid_conv_ = mid_->add(std::make_shared<Conv2d>(f, f, 3, 1, 1, rng));
  mid_bn_ = mid_->add(std::make_shared<BatchNorm2d>(f));
  up_ = register_module("up", std::make_shared<Sequential>());
  for (int i = 0; i < 2; ++i) {
    up_conv_[i] = up_->add(std::make_shared<Conv2d>(f, 4 * f, 3, 1, 1, rng));
    if (cfg.icnr) icnr_init(*up_conv_[i], 2);
    up_->add(std::make_shared<PixelShuffle>(2));
    up_act_[i] = up_->add(std::make_shared<PReLU>());
  }
  tail_ = register_module("tail", std::make_shared<Conv2d>(f, 3, 9, 1, 4, rng));
}

Tensor SRResNet::forward(const Tensor& x) {
  if (x.ndim() != 4 || x.dim(3) != 3)
    fail("SRResNet", "input must be (N, H, W, 3) RGB, got shape " + shape_str(x.shape()));
  if (!fuse_for_inference()) {
    Tensor h = (*head_)(x);
    Tensor b = (*mid_)((*body_)(h));
    return (*tail_)((*up_)(add(h, b)));
  }
  Tensor h = conv_bn_prelu_eval(x, *head_conv_, nullptr, head_act_.get());
  Tensor u = conv_bn_prelu_eval((*body_)(h), *mid_conv_, mid_bn_.get(), nullptr, h);  // h + mid(body(h))
  for (int i = 0; i < 2; ++i) {
    if (up_act_[i]->weight.numel() == 1) {  // one slope: PReLU commutes with the shuffle
      u = pixel_shuffle(conv_bn_prelu_eval(u, *up_conv_[i], nullptr, up_act_[i].get()), 2);
    } else {
      u = (*up_act_[i])(pixel_shuffle((*up_conv_[i])(u), 2));
    }
  }
  return (*tail_)(u);
}

}  // namespace srgan
