// batch_norm over N*H*W per channel of an NHWC tensor; training and eval modes.
#include "core/autograd.h"
#include "core/backend.h"
#include "core/dispatch.h"
#include "core/distributed.h"
#include "core/op_batchnorm_sync.h"
#include "core/ops.h"
#include "kernels/batchnorm.h"

namespace srgan {
using namespace kern;

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  check_defined(op, x, "input");
  if (x.ndim() < 2) fail(op, "input must be (N, ..., C), got shape " + shape_str(x.shape()));
  const int C = int(x.dim(-1));
  check_shape(op, gamma, {C}, "weight");
  check_shape(op, beta, {C}, "bias");
  check_shape(op, running_mean, {C}, "running_mean");
  check_shape(op, running_var, {C}, "running_var");
  check_compatible(op, {{"input", &x}, {"weight", &gamma}, {"bias", &beta}, {"running_mean", &running_mean},
                        {"running_var", &running_var}});
  BatchNormParams p;
  p.C = C;
  p.M = C ? x.numel() / C : 0;
  p.eps = eps;
  p.momentum = momentum;
  if (training && p.M < 2) fail(op, "training needs more than one value per channel, got input " + shape_str(x.shape()));
  Tensor y = empty_like(x);
  Tensor rm = running_mean, rv = running_var;
  if (!training) {
    if (x.is_cuda()) {
      SRGAN_CUDA_ONLY(op, batchnorm_forward_eval_cuda(p, fptr(x), fptr(gamma), fptr(beta), fptr(rm), fptr(rv), fptr(y), current_stream()));
    } else {
      dispatch_cpu(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        batchnorm_forward_eval_cpu<T>(p, ptr<T>(x), ptr<T>(gamma), ptr<T>(beta), ptr<T>(rm), ptr<T>(rv), ptr<T>(y));
      });
    }
    if (!grad_enabled()) return y;  // inference: no graph, no snapshot
    // Statistics are constants in eval mode: snapshot them so later updates don't change the gradient.
    Tensor rm_c = rm.clone(), rv_c = rv.clone();
    return record(y, op, {x, gamma, beta}, [p, x, gamma, rm_c, rv_c](const Tensor& g) -> std::vector<Tensor> {
      Tensor dx = empty_like(x), dg = empty_like(gamma), db = empty_like(gamma);
      if (g.is_cuda()) {
        SRGAN_CUDA_ONLY("batch_norm.backward", batchnorm_backward_eval_cuda(p, fptr(x), fptr(g), fptr(gamma), fptr(rm_c),
                                                                         fptr(rv_c), fptr(dx), fptr(dg), fptr(db), current_stream()));
      } else {
        dispatch_cpu(g.dtype(), [&](auto tag) {
          using T = decltype(tag);
          batchnorm_backward_eval_cpu<T>(p, ptr<T>(x), ptr<T>(g), ptr<T>(gamma), ptr<T>(rm_c), ptr<T>(rv_c), ptr<T>(dx),
                                         ptr<T>(dg), ptr<T>(db));
        });
      }
      return {dx, dg, db};
    });
  }
  if (ProcessGroup* group = batch_norm_group()) return batch_norm_synced(x, gamma, beta, rm, rv, p, *group);
  Tensor save_mean = Tensor::empty({C}, x.dtype(), x.device());
  Tensor save_invstd = Tensor::empty({C}, x.dtype(), x.device());
  const BatchNormAlgo algo = backend().bn_algo;  // chosen once: the backward pass uses the same
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY(op, batchnorm_forward_train_cuda(p, fptr(x), fptr(gamma), fptr(beta), fptr(y), fptr(save_mean),
                                                     fptr(save_invstd), fptr(rm), fptr(rv), algo, current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      batchnorm_forward_train_cpu<T>(p, ptr<T>(x), ptr<T>(gamma), ptr<T>(beta), ptr<T>(y), ptr<T>(save_mean),
                                     ptr<T>(save_invstd), ptr<T>(rm), ptr<T>(rv));
    });
  }
  return record(y, op, {x, gamma, beta}, [p, x, gamma, save_mean, save_invstd, algo](const Tensor& g)
                                            -> std::vector<Tensor> {
    Tensor dx = empty_like(x), dg = empty_like(gamma), db = empty_like(gamma);
    if (g.is_cuda()) {
      SRGAN_CUDA_ONLY("batch_norm.backward",
                      batchnorm_backward_train_cuda(p, fptr(x), fptr(g), fptr(gamma), fptr(save_mean), fptr(save_invstd),
                                                    fptr(dx), fptr(dg), fptr(db), algo, current_stream()));
    } else {
      dispatch_cpu(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        batchnorm_backward_train_cpu<T>(p, ptr<T>(x), ptr<T>(g), ptr<T>(gamma), ptr<T>(save_mean), ptr<T>(save_invstd),
                                        ptr<T>(dx), ptr<T>(dg), ptr<T>(db));
      });
    }
    return {dx, dg, db};
  });
}

}  // namespace srgan
