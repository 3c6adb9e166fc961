// Spatial rearrangements: pixel_shuffle (depth to space) and 2x2 max pooling, NHWC.
#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "kernels/maxpool.h"
#include "kernels/pixel_shuffle.h"

namespace srgan {
using namespace kern;

Tensor pixel_shuffle(const Tensor& x, int r) {
  const char* op = "pixel_shuffle";
  check_ndim(op, x, 4, "input", "(N, H, W, C)");
  if (r < 1 || x.dim(3) % (int64_t(r) * r) != 0)
    fail(op, "channels of input " + shape_str(x.shape()) + " must be a multiple of r*r = " + std::to_string(r * r));
  PixelShuffleParams p;
  p.N = int(x.dim(0)); p.H = int(x.dim(1)); p.W = int(x.dim(2)); p.C = int(x.dim(3)); p.r = r;
  Tensor y = Tensor::empty({p.N, p.H * r, p.W * r, p.C / (r * r)}, x.dtype(), x.device());
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY(op, pixel_shuffle_forward_cuda(p, fptr(x), fptr(y), current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      pixel_shuffle_forward_cpu<T>(p, x.data<T>(), y.data<T>());
    });
  }
  Shape xs = x.shape();
  return record(y, op, {x}, [p, xs](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(xs, g.dtype(), g.device());
    if (g.is_cuda()) {
      SRGAN_CUDA_ONLY("pixel_shuffle.backward", pixel_shuffle_backward_cuda(p, fptr(g), fptr(dx), current_stream()));
    } else {
      dispatch_cpu(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        pixel_shuffle_backward_cpu<T>(p, g.data<T>(), dx.data<T>());
      });
    }
    return {dx};
  });
}

Tensor max_pool2x2(const Tensor& x) {
  const char* op = "max_pool2x2";
  check_ndim(op, x, 4, "input", "(N, H, W, C)");
  if (x.dim(1) < 2 || x.dim(2) < 2) fail(op, "input " + shape_str(x.shape()) + " is smaller than the 2x2 window");
  MaxPoolParams p;
  p.N = int(x.dim(0)); p.H = int(x.dim(1)); p.W = int(x.dim(2)); p.C = int(x.dim(3));
  Tensor y = Tensor::empty({p.N, p.P(), p.Q(), p.C}, x.dtype(), x.device());
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY(op, maxpool2x2_forward_cuda(p, fptr(x), fptr(y), current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      maxpool2x2_forward_cpu<T>(p, x.data<T>(), y.data<T>());
    });
  }
  return record(y, op, {x}, [p, x](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = empty_like(x);
    if (g.is_cuda()) {
      SRGAN_CUDA_ONLY("max_pool2x2.backward", maxpool2x2_backward_cuda(p, fptr(x), fptr(g), fptr(dx), current_stream()));
    } else {
      dispatch_cpu(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        maxpool2x2_backward_cpu<T>(p, x.data<T>(), g.data<T>(), dx.data<T>());
      });
    }
    return {dx};
  });
}

}  // namespace srgan
