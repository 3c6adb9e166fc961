// linear: x (M, In) times w^T for w (Out, In), plus bias; PyTorch's weight layout.
#include "core/autograd.h"
#include "core/backend.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "kernels/linear.h"

namespace srgan {
using namespace kern;

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const char* op = "linear";
  check_ndim(op, x, 2, "input", "(M, In)");
  check_ndim(op, w, 2, "weight", "(Out, In)");
  if (w.dim(1) != x.dim(1))
    fail(op, "input " + shape_str(x.shape()) + " has " + std::to_string(x.dim(1)) + " features but weight " +
                 shape_str(w.shape()) + " expects " + std::to_string(w.dim(1)));
  if (b.defined()) check_shape(op, b, {w.dim(0)}, "bias");
  check_compatible(op, {{"input", &x}, {"weight", &w}, {"bias", &b}});
  LinearParams p;
  p.M = int(x.dim(0)); p.In = int(x.dim(1)); p.Out = int(w.dim(0));
  Tensor y = Tensor::empty({p.M, p.Out}, x.dtype(), x.device());
  const GemmAlgo algo = backend().gemm_algo;  // chosen once: the backward passes use the same
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY(op, linear_forward_cuda(p, fptr(x), fptr(w), fptr(b), fptr(y), algo, current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      linear_forward_cpu<T>(p, ptr<T>(x), ptr<T>(w), ptr<T>(b), ptr<T>(y));
    });
  }
  return record(y, op, {x, w, b}, [p, x, w, b, algo](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx, dw, db;
    if (x.requires_grad()) dx = empty_like(x);
    const bool want_w = w.requires_grad() || (b.defined() && b.requires_grad());
    if (want_w) {
      dw = empty_like(w);
      if (b.defined()) db = empty_like(b);
    }
    if (g.is_cuda()) {
      SRGAN_CUDA_ONLY("linear.backward", {
        if (dx.defined()) linear_backward_data_cuda(p, fptr(g), fptr(w), fptr(dx), algo, current_stream());
        if (want_w) linear_backward_weight_cuda(p, fptr(x), fptr(g), fptr(dw), fptr(db), algo, current_stream());
      });
    } else {
      dispatch_cpu(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if (dx.defined()) linear_backward_data_cpu<T>(p, ptr<T>(g), ptr<T>(w), ptr<T>(dx));
        if (want_w) linear_backward_weight_cpu<T>(p, ptr<T>(x), ptr<T>(g), ptr<T>(dw), ptr<T>(db));
      });
    }
    return {dx, w.requires_grad() ? dw : Tensor(), b.defined() && b.requires_grad() ? db : Tensor()};
  });
}

}  // namespace srgan
