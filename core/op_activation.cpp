// Activation ops: PReLU (learned slope), ReLU, leaky ReLU, sigmoid.
#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "kernels/activation.h"
#include "kernels/prelu.h"

namespace srgan {
using namespace kern;

Tensor prelu(const Tensor& x, const Tensor& a) {
  const char* op = "prelu";
  check_defined(op, x, "input");
  check_defined(op, a, "slope");
  if (x.ndim() < 1) fail(op, "input must have a channel dimension, got shape " + shape_str(x.shape()));
  const int C = int(x.dim(-1));
  if (a.ndim() != 1 || (a.dim(0) != 1 && a.dim(0) != C))
    fail(op, "slope must have shape (1,) or (" + std::to_string(C) + ",) for input " + shape_str(x.shape()) +
                 ", got " + shape_str(a.shape()));
  check_compatible(op, {{"input", &x}, {"slope", &a}});
  PreluParams p;
  p.C = C;
  p.M = C ? x.numel() / C : 0;
  p.per_channel = a.dim(0) == C && C != 1;
  Tensor y = empty_like(x);
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY(op, prelu_forward_cuda(p, fptr(x), fptr(a), fptr(y), current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      prelu_forward_cpu<T>(p, x.data<T>(), a.data<T>(), y.data<T>());
    });
  }
  return record(y, op, {x, a}, [p, x, a](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = empty_like(x), da = empty_like(a);
    if (g.is_cuda()) {
      SRGAN_CUDA_ONLY("prelu.backward", prelu_backward_cuda(p, fptr(x), fptr(a), fptr(g), fptr(dx), fptr(da), current_stream()));
    } else {
      dispatch_cpu(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        prelu_backward_cpu<T>(p, x.data<T>(), a.data<T>(), g.data<T>(), dx.data<T>(), da.data<T>());
      });
    }
    return {dx, da};
  });
}

namespace {
Tensor activation(const char* op, const Tensor& x, Activation kind, double slope) {
  check_defined(op, x, "input");
  ActivationParams p;
  p.n = x.numel();
  p.kind = kind;
  p.slope = slope;
  Tensor y = empty_like(x);
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY(op, activation_forward_cuda(p, fptr(x), fptr(y), current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      activation_forward_cpu<T>(p, x.data<T>(), y.data<T>());
    });
  }
  // Sigmoid's backward reads its output; keep a detached handle (no cycle through the graph).
  Tensor y_saved = kind == Activation::sigmoid ? y.detach() : Tensor();
  return record(y, op, {x}, [p, x, y_saved](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = empty_like(x);
    if (g.is_cuda()) {
      SRGAN_CUDA_ONLY("activation.backward",
                      activation_backward_cuda(p, fptr(x), fptr(y_saved), fptr(g), fptr(dx), current_stream()));
    } else {
      dispatch_cpu(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        activation_backward_cpu<T>(p, x.data<T>(), ptr<T>(y_saved), g.data<T>(), dx.data<T>());
      });
    }
    return {dx};
  });
}
}  // namespace

Tensor relu(const Tensor& x) { return activation("relu", x, Activation::relu, 0.0); }
Tensor leaky_relu(const Tensor& x, double slope) { return activation("leaky_relu", x, Activation::leaky_relu, slope); }
Tensor sigmoid(const Tensor& x) { return activation("sigmoid", x, Activation::sigmoid, 0.0); }

}  // namespace srgan
