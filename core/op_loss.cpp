// Losses reduced to a scalar by the mean: MSE and binary cross-entropy with logits.
#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "kernels/reduce.h"

namespace srgan {
using namespace kern;

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  const char* op = "mse_loss";
  check_same_shape(op, pred, target, "prediction", "target");
  check_compatible(op, {{"prediction", &pred}, {"target", &target}});
  if (pred.numel() == 0) fail(op, "empty input " + shape_str(pred.shape()));
  const int64_t n = pred.numel();
  Tensor y = Tensor::empty({}, pred.dtype(), pred.device());
  if (pred.is_cuda()) {
    SRGAN_CUDA_ONLY(op, mse_forward_cuda(n, fptr(pred), fptr(target), fptr(y), current_stream()));
  } else {
    dispatch_cpu(pred.dtype(), [&](auto tag) {
      using T = decltype(tag);
      *y.data<T>() = T(mse_forward_cpu<T>(n, pred.data<T>(), target.data<T>()));
    });
  }
  return record(y, op, {pred, target}, [n, pred, target](const Tensor& g) -> std::vector<Tensor> {
    Tensor dp = empty_like(pred);
    if (g.is_cuda()) {
      SRGAN_CUDA_ONLY("mse_loss.backward", mse_backward_cuda(n, fptr(pred), fptr(target), fptr(g), fptr(dp), current_stream()));
    } else {
      double gv = g.item();
      dispatch_cpu(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        mse_backward_cpu<T>(n, pred.data<T>(), target.data<T>(), gv, dp.data<T>());
      });
    }
    return {dp, target.requires_grad() ? scale(dp, -1.0) : Tensor()};
  });
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& target) {
  const char* op = "bce_with_logits";
  check_same_shape(op, logits, target, "logits", "target");
  check_compatible(op, {{"logits", &logits}, {"target", &target}});
  if (logits.numel() == 0) fail(op, "empty input " + shape_str(logits.shape()));
  const int64_t n = logits.numel();
  Tensor y = Tensor::empty({}, logits.dtype(), logits.device());
  if (logits.is_cuda()) {
    SRGAN_CUDA_ONLY(op, bce_logits_forward_cuda(n, fptr(logits), fptr(target), fptr(y), current_stream()));
  } else {
    dispatch_cpu(logits.dtype(), [&](auto tag) {
      using T = decltype(tag);
      *y.data<T>() = T(bce_logits_forward_cpu<T>(n, logits.data<T>(), target.data<T>()));
    });
  }
  Tensor t = target.detach();  // the target is a constant
  return record(y, op, {logits}, [n, logits, t](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = empty_like(logits);
    if (g.is_cuda()) {
      SRGAN_CUDA_ONLY("bce_with_logits.backward",
                      bce_logits_backward_cuda(n, fptr(logits), fptr(t), fptr(g), fptr(dx), current_stream()));
    } else {
      double gv = g.item();
      dispatch_cpu(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        bce_logits_backward_cpu<T>(n, logits.data<T>(), t.data<T>(), gv, dx.data<T>());
      });
    }
    return {dx};
  });
}

}  // namespace srgan
