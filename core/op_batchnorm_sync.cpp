// batch_norm in training mode with statistics over every rank's batch (--sync-bn; see
// set_batch_norm_group in core/distributed.h), built from existing kernels:
//   forward:  S1 = sum x (per channel), all-reduced -> mean; S2 = sum (x - mean)^2, all-reduced
//             -> biased variance; y = the eval-mode kernel with (mean, variance) as statistics;
//             running statistics updated with the unbiased variance over the global count.
//   backward: the eval-mode backward kernel gives dx_e = dy * gamma * invstd and the local sums
//             sum dy (= dbeta) and sum dy * xhat (= dgamma); with those sums all-reduced,
//             dx = dx_e - gamma * invstd / n * (sum dy + xhat * sum dy * xhat), i.e.
//             dx = dx_e - (A * x + B) per channel, A = k * dgamma_all * invstd,
//             B = k * dbeta_all - A * mean, k = gamma * invstd / n.
//   gamma and beta get the local sums (the gradient reduction of data parallelism averages them
//   over ranks like every other parameter), as PyTorch's SyncBatchNorm does.
// The per-channel arithmetic runs on the host in double (C values): a CUDA step with --sync-bn
// reads them back, so it cannot be captured as a CUDA graph (the runner then stays eager).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/distributed.h"
#include "core/op_batchnorm_sync.h"
#include "core/ops.h"
#include "kernels/batchnorm.h"
#include "kernels/column_sum.h"

namespace srgan {
using namespace kern;
namespace {

// (C) column sums of x viewed as (M, C), in x's dtype and device.
Tensor column_sums(const Tensor& x, int64_t M, int C) {
  Tensor out = Tensor::empty({C}, x.dtype(), x.device());
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY("batch_norm", column_sum_cuda(fptr(x), M, C, fptr(out), current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      column_sum_cpu<T>(ptr<T>(x), M, C, ptr<T>(out));
    });
  }
  return out;
}

// The global per-channel sums: local column sums all-reduced, read back as doubles.
std::vector<double> global_sums(ProcessGroup& group, const Tensor& local) {
  group.all_reduce_sum(local);
  return local.to_vector_f64();
}

Tensor channel_vector(const std::vector<double>& v, const Tensor& like) {
  Tensor t = Tensor::from_vector(v, {int64_t(v.size())}).to(like.dtype());
  return t.to(like.device());
}

}  // namespace

Tensor batch_norm_synced(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, const BatchNormParams& p, ProcessGroup& group) {
  const int C = p.C;
  const size_t nc = static_cast<size_t>(C);
  std::vector<double> mean(nc), var(nc), invstd(nc), ones(nc, 1.0), neg_mean(nc);
  double n = 0;
  {
    NoGradGuard ng;
    std::vector<double> count{double(p.M)};
    group.all_reduce_sum(count);
    n = count[0];
    const std::vector<double> s1 = global_sums(group, column_sums(x, p.M, C));
    for (int c = 0; c < C; ++c) {
      mean[size_t(c)] = s1[size_t(c)] / n;
      neg_mean[size_t(c)] = -mean[size_t(c)];
    }
    Tensor centred = channel_affine(x, channel_vector(ones, x), channel_vector(neg_mean, x));
    const std::vector<double> s2 = global_sums(group, column_sums(mul(centred, centred), p.M, C));
    std::vector<double> rm = running_mean.to_vector_f64(), rv = running_var.to_vector_f64();
    for (int c = 0; c < C; ++c) {
      var[size_t(c)] = s2[size_t(c)] / n;
      invstd[size_t(c)] = 1.0 / std::sqrt(var[size_t(c)] + p.eps);
      rm[size_t(c)] = (1.0 - p.momentum) * rm[size_t(c)] + p.momentum * mean[size_t(c)];
      rv[size_t(c)] = (1.0 - p.momentum) * rv[size_t(c)] + p.momentum * var[size_t(c)] * n / std::max(n - 1.0, 1.0);
    }
    running_mean.copy_from(channel_vector(rm, running_mean));
    running_var.copy_from(channel_vector(rv, running_var));
  }
  const Tensor mean_t = channel_vector(mean, x), var_t = channel_vector(var, x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY("batch_norm", batchnorm_forward_eval_cuda(p, fptr(x), fptr(gamma), fptr(beta), fptr(mean_t),
                                                              fptr(var_t), fptr(y), current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      batchnorm_forward_eval_cpu<T>(p, ptr<T>(x), ptr<T>(gamma), ptr<T>(beta), ptr<T>(mean_t), ptr<T>(var_t), ptr<T>(y));
    });
  }
  ProcessGroup* g = &group;
  return record(y, "batch_norm", {x, gamma, beta}, [p, x, gamma, mean_t, var_t, mean, invstd, n, g](const Tensor& dy)
                                                       -> std::vector<Tensor> {
    Tensor dx_e = Tensor::empty(x.shape(), x.dtype(), x.device());
    Tensor dgamma = Tensor::empty({p.C}, x.dtype(), x.device()), dbeta = Tensor::empty({p.C}, x.dtype(), x.device());
    if (dy.is_cuda()) {
      SRGAN_CUDA_ONLY("batch_norm.backward",
                      batchnorm_backward_eval_cuda(p, fptr(x), fptr(dy), fptr(gamma), fptr(mean_t), fptr(var_t),
                                                   fptr(dx_e), fptr(dgamma), fptr(dbeta), current_stream()));
    } else {
      dispatch_cpu(dy.dtype(), [&](auto tag) {
        using T = decltype(tag);
        batchnorm_backward_eval_cpu<T>(p, ptr<T>(x), ptr<T>(dy), ptr<T>(gamma), ptr<T>(mean_t), ptr<T>(var_t),
                                       ptr<T>(dx_e), ptr<T>(dgamma), ptr<T>(dbeta));
      });
    }
    NoGradGuard ng;
    std::vector<double> sums = dgamma.to_vector_f64();  // (2C): sum dy * xhat, then sum dy
    const std::vector<double> db = dbeta.to_vector_f64();
    sums.insert(sums.end(), db.begin(), db.end());
    g->all_reduce_sum(sums);
    const std::vector<double> gam = gamma.to_vector_f64();
    std::vector<double> a(size_t(p.C)), b(size_t(p.C));
    for (size_t c = 0; c < size_t(p.C); ++c) {
      const double k = gam[c] * invstd[c] / n;
      a[c] = -k * sums[c] * invstd[c];
      b[c] = -k * sums[size_t(p.C) + c] - a[c] * mean[c];  // -B = -(k * dbeta_all - A * mean), and a = -A
    }
    Tensor dx = add(dx_e, channel_affine(x, channel_vector(a, x), channel_vector(b, x)));
    return {dx, dgamma, dbeta};
  });
}

}  // namespace srgan
