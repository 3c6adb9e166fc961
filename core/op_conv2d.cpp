// conv2d: NHWC input, KRSC weights, optional bias; forward and both backward passes.
#include "core/autograd.h"
#include "core/backend.h"
#include "core/conv2d_params.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "kernels/conv2d.h"

namespace srgan {
using namespace kern;
namespace {

// The CPU passes under the selected algorithm; Winograd where it applies.
int winograd_tile(const Conv2dParams& p, CpuConvAlgo a) {
  if (!conv2d_winograd_applies(p)) return 0;
  return a == CpuConvAlgo::winograd_f2 ? 2 : a == CpuConvAlgo::winograd_f4 ? 4 : 0;
}
template <typename T> void forward_cpu(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y, CpuConvAlgo a) {
  if (a == CpuConvAlgo::reference) conv2d_forward_cpu_ref<T>(p, x, w, b, y);
  else if (int m = winograd_tile(p, a)) conv2d_forward_cpu_winograd<T>(p, x, w, b, y, m);
  else conv2d_forward_cpu_gemm<T>(p, x, w, b, y);
}
template <typename T> void backward_data_cpu(const Conv2dParams& p, const T* dy, const T* w, T* dx, CpuConvAlgo a) {
  if (a == CpuConvAlgo::reference) conv2d_backward_data_cpu_ref<T>(p, dy, w, dx);
  else if (int m = winograd_tile(p, a)) conv2d_backward_data_cpu_winograd<T>(p, dy, w, dx, m);
  else conv2d_backward_data_cpu_gemm<T>(p, dy, w, dx);
}
template <typename T> void backward_weight_cpu(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, CpuConvAlgo a) {
  if (a == CpuConvAlgo::reference) conv2d_backward_weight_cpu_ref<T>(p, x, dy, dw, db);
  else if (int m = winograd_tile(p, a)) conv2d_backward_weight_cpu_winograd<T>(p, x, dy, dw, db, m);
  else conv2d_backward_weight_cpu_gemm<T>(p, x, dy, dw, db);
}

}  // namespace

Conv2dParams checked_conv2d_params(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, int stride,
                                   int pad) {
  check_ndim(op, x, 4, "input", "(N, H, W, C)");
  check_ndim(op, w, 4, "weight", "(K, R, S, C)");
  if (w.dim(3) != x.dim(3))
    fail(op, "input " + shape_str(x.shape()) + " has " + std::to_string(x.dim(3)) + " channels but weight " +
                 shape_str(w.shape()) + " expects " + std::to_string(w.dim(3)));
  if (b.defined()) check_shape(op, b, {w.dim(0)}, "bias");
  check_compatible(op, {{"input", &x}, {"weight", &w}, {"bias", &b}});
  if (stride < 1 || pad < 0)
    fail(op, "stride must be >= 1 and padding >= 0, got stride " + std::to_string(stride) + ", padding " +
                 std::to_string(pad));
  Conv2dParams p;
  p.N = int(x.dim(0)); p.H = int(x.dim(1)); p.W = int(x.dim(2)); p.C = int(x.dim(3));
  p.K = int(w.dim(0)); p.R = int(w.dim(1)); p.S = int(w.dim(2));
  p.stride = stride; p.pad = pad;
  if (p.H + 2 * pad < p.R || p.W + 2 * pad < p.S)
    fail(op, "kernel " + shape_str(w.shape()) + " is larger than the padded input " + shape_str(x.shape()));
  return p;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
  const char* op = "conv2d";
  const Conv2dParams p = checked_conv2d_params(op, x, w, b, stride, pad);
  Tensor y = Tensor::empty({p.N, p.P(), p.Q(), p.K}, x.dtype(), x.device());
  // The algorithms are chosen once, here, and the backward passes use the same ones: a change of
  // backend() between forward and backward does not mix two algorithms in one step.
  const CpuConvAlgo cpu_algo = backend().cpu_conv;
  const ConvAlgo cuda_algo = backend().conv_algo;
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY(op, conv2d_forward_cuda(p, fptr(x), fptr(w), fptr(b), fptr(y), cuda_algo, current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      forward_cpu<T>(p, ptr<T>(x), ptr<T>(w), ptr<T>(b), ptr<T>(y), cpu_algo);
    });
  }
  return record(y, op, {x, w, b}, [p, x, w, b, cpu_algo, cuda_algo](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx, dw, db;
    if (x.requires_grad()) dx = empty_like(x);
    const bool want_w = w.requires_grad() || (b.defined() && b.requires_grad());
    if (want_w) {
      dw = empty_like(w);
      if (b.defined()) db = empty_like(b);
    }
    if (g.is_cuda()) {
      SRGAN_CUDA_ONLY("conv2d.backward", {
        if (dx.defined()) conv2d_backward_data_cuda(p, fptr(g), fptr(w), fptr(dx), cuda_algo, current_stream());
        if (want_w) conv2d_backward_weight_cuda(p, fptr(x), fptr(g), fptr(dw), fptr(db), cuda_algo, current_stream());
      });
    } else {
      dispatch_cpu(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if (dx.defined()) backward_data_cpu<T>(p, ptr<T>(g), ptr<T>(w), ptr<T>(dx), cpu_algo);
        if (want_w) backward_weight_cpu<T>(p, ptr<T>(x), ptr<T>(g), ptr<T>(dw), ptr<T>(db), cpu_algo);
      });
    }
    return {dx, w.requires_grad() ? dw : Tensor(), b.defined() && b.requires_grad() ? db : Tensor()};
  });
}

}  // namespace srgan
