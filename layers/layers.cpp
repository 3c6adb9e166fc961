// Layer implementations: parameter creation with PyTorch's default initialisation and forwards.
#include "layers/layers.h"

#include <cmath>

#include "core/check.h"
#include "core/ops.h"

namespace srgan {

Conv2d::Conv2d(int in, int out, int k, int stride_, int pad_, Rng& rng, bool with_bias)
    : in_channels(in), out_channels(out), kernel(k), stride(stride_), pad(pad_) {
  double bound = 1.0 / std::sqrt(double(in) * k * k);
  weight = register_parameter("weight", uniform_tensor({out, k, k, in}, rng, -bound, bound));
  if (with_bias) bias = register_parameter("bias", uniform_tensor({out}, rng, -bound, bound));
}
Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, stride, pad); }
double Conv2d::flops(const Shape& in, const Shape& out) const {
  (void)in;
  return 2.0 * double(shape_numel(out)) * kernel * kernel * in_channels;
}

BatchNorm2d::BatchNorm2d(int c, double eps_, double momentum_) : eps(eps_), momentum(momentum_) {
  weight = register_parameter("weight", Tensor::full({c}, 1.0));
  bias = register_parameter("bias", Tensor::zeros({c}));
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::full({c}, 1.0));
}
Tensor BatchNorm2d::forward(const Tensor& x) {
  return batch_norm(x, weight, bias, running_mean, running_var, training_, momentum, eps);
}
double BatchNorm2d::flops(const Shape& in, const Shape&) const { return 2.0 * double(shape_numel(in)); }

PReLU::PReLU(int n, double init) { weight = register_parameter("weight", Tensor::full({n}, init)); }
Tensor PReLU::forward(const Tensor& x) { return prelu(x, weight); }

Tensor PixelShuffle::forward(const Tensor& x) { return pixel_shuffle(x, r); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, slope); }
Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor MaxPool2x2::forward(const Tensor& x) { return max_pool2x2(x); }

Tensor Flatten::forward(const Tensor& x) {
  if (x.ndim() < 1) fail("Flatten", "input must have a batch dimension, got shape " + shape_str(x.shape()));
  int64_t n = x.dim(0);
  return reshape(x, {n, n ? x.numel() / n : 0});
}

Linear::Linear(int in, int out, Rng& rng, bool with_bias) {
  double bound = 1.0 / std::sqrt(double(in));
  weight = register_parameter("weight", uniform_tensor({out, in}, rng, -bound, bound));
  if (with_bias) bias = register_parameter("bias", uniform_tensor({out}, rng, -bound, bound));
}
Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }
double Linear::flops(const Shape& in, const Shape& out) const { return 2.0 * double(shape_numel(out)) * double(in.back()); }

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& [name, m] : children_) h = (*m)(h);
  return h;
}

}  // namespace srgan
