// Differentiable operations on Tensors: the one place that chooses a kernel by device and dtype.
// Activations are NHWC: x (N, H, W, C). Convolution weights are KRSC: w (K, R, S, C).
// Each op checks its arguments (the error names the op and the shapes), runs the CPU or CUDA
// kernel from kernels/, and records a backward function when autograd is on.
#pragma once
#include <utility>

#include "core/tensor.h"

namespace srgan {

// ---- arithmetic (same shapes, no broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, double s);
Tensor sum(const Tensor& x);   // shape {} (a scalar)
Tensor mean(const Tensor& x);  // shape {}
Tensor reshape(const Tensor& x, const Shape& shape);  // a view whose backward reshapes the gradient
// y[..., c] = x[..., c] * scale[c] + shift[c]; scale/shift (C) are constants (no gradient).
Tensor channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift);

// ---- in place, never recorded (gradient accumulation, optimizer, initialisation) ----
void add_(Tensor& y, const Tensor& x);               // y += x
void axpy_(Tensor& y, double alpha, const Tensor& x);  // y += alpha * x
void scale_(Tensor& y, double s);                    // y *= s
void fill_(Tensor& y, double v);                     // y = v

// ---- neural-network ops ----
// x (N, H, W, C), w (K, R, S, C), b (K) or undefined -> (N, P, Q, K); zero padding `pad` on all sides.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad);
// slope a: (1) shared or (C) per channel.
Tensor prelu(const Tensor& x, const Tensor& a);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double slope);
Tensor sigmoid(const Tensor& x);
// Training: batch statistics, running stats updated in place (momentum as PyTorch).
// Eval: running statistics. gamma, beta, running_mean, running_var: (C).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// (N, H, W, C*r*r) -> (N, H*r, W*r, C), PyTorch's channel order.
Tensor pixel_shuffle(const Tensor& x, int r);
// (N, H, W, C) -> (N, H/2, W/2, C)
Tensor max_pool2x2(const Tensor& x);
// x (M, In), w (Out, In), b (Out) or undefined -> (M, Out)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);

// ---- inference only: never recorded; they fail if autograd is on and an input requires grad ----
// An eval-mode batch norm after a convolution with bias conv_bias (may be undefined), folded
// into one affine: batch_norm(v + conv_bias) = v * scale + shift, (scale, shift) each (C).
std::pair<Tensor, Tensor> fold_batch_norm(const Tensor& conv_bias, const Tensor& gamma, const Tensor& beta,
                                          const Tensor& running_mean, const Tensor& running_var, double eps = 1e-5);
// y = PReLU(conv2d(x, w) * scale + shift; slope) + residual in one pass over the output (on a
// GPU, in the convolution's own epilogue): x, w as conv2d; scale, shift (K) or undefined (1, 0);
// slope (1) or (K), or undefined for no activation; residual like y, or undefined.
Tensor conv2d_fused_eval(const Tensor& x, const Tensor& w, const Tensor& scale, const Tensor& shift,
                         const Tensor& slope, const Tensor& residual, int stride, int pad);

// ---- losses (mean over all elements, shape {}) ----
Tensor mse_loss(const Tensor& pred, const Tensor& target);
// target is a constant (no gradient), same shape as logits.
Tensor bce_with_logits(const Tensor& logits, const Tensor& target);

}  // namespace srgan
