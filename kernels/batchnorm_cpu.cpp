// Batch normalisation on the CPU (x viewed as (M, C)), statistics accumulated in double, in fixed
// blocks of rows spread over the CPU threads (kernels/cpu_parallel.h).
#include <cmath>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/cpu_parallel.h"

namespace srgan::kern {

template <typename T>
void batchnorm_forward_train_cpu(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                 T* y, T* save_mean, T* save_invstd, T* running_mean, T* running_var) {
  const int C = p.C;
  std::vector<double> mean(C), var(C);  // (C)
  blocked_row_sums(p.M, C, [&](int64_t m, double* acc) {
    for (int c = 0; c < C; ++c) acc[c] += double(x[m * C + c]);
  }, mean.data());
  for (int c = 0; c < C; ++c) mean[c] /= double(p.M);
  blocked_row_sums(p.M, C, [&](int64_t m, double* acc) {
    for (int c = 0; c < C; ++c) {
      double d = double(x[m * C + c]) - mean[c];
      acc[c] += d * d;
    }
  }, var.data());
  for (int c = 0; c < C; ++c) {
    double biased = var[c] / double(p.M);
    double invstd = 1.0 / std::sqrt(biased + p.eps);
    save_mean[c] = T(mean[c]);
    save_invstd[c] = T(invstd);
    if (running_mean && running_var) {
      double unbiased = p.M > 1 ? var[c] / double(p.M - 1) : biased;
      running_mean[c] = T((1.0 - p.momentum) * double(running_mean[c]) + p.momentum * mean[c]);
      running_var[c] = T((1.0 - p.momentum) * double(running_var[c]) + p.momentum * unbiased);
    }
    var[c] = invstd;
  }
  parallel_for(p.M, grain_rows(C), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int c = 0; c < C; ++c) {
        int64_t i = m * C + c;
        y[i] = T((double(x[i]) - mean[c]) * var[c] * double(gamma[c]) + double(beta[c]));
      }
  });
}

namespace {

// The eval-mode affine in double: scale = gamma / sqrt(var + eps), shift = (bias - mean) * scale
// + beta (bias nullptr: 0), stored as U. Used by the eval forward (U = double) and the fold for
// inference (batchnorm_fold_eval_cpu, U = T).
template <typename T, typename U>
void fold_eval(const BatchNormParams& p, const T* gamma, const T* beta, const T* mean, const T* var, const T* bias,
               U* scale, U* shift) {
  for (int c = 0; c < p.C; ++c) {
    const double a = double(gamma[c]) / std::sqrt(double(var[c]) + p.eps);
    scale[c] = U(a);
    shift[c] = U((double(bias ? bias[c] : T(0)) - double(mean[c])) * a + double(beta[c]));
  }
}

}  // namespace

template <typename T>
void batchnorm_forward_eval_cpu(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                const T* running_mean, const T* running_var, T* y) {
  // y = x * a + b per channel, a = gamma / sqrt(var + eps), b = beta - mean * a (computed once).
  std::vector<double> a(p.C), b(p.C);  // (C)
  fold_eval(p, gamma, beta, running_mean, running_var, static_cast<const T*>(nullptr), a.data(), b.data());
  parallel_for(p.M, grain_rows(p.C), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int c = 0; c < p.C; ++c) {
        int64_t i = m * p.C + c;
        y[i] = T(double(x[i]) * a[c] + b[c]);
      }
  });
}

template <typename T>
void batchnorm_fold_eval_cpu(const BatchNormParams& p, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, const T* bias, T* scale, T* shift) {
  fold_eval(p, gamma, beta, running_mean, running_var, bias, scale, shift);
}

// dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), the standard closed form.
template <typename T>
void batchnorm_backward_train_cpu(const BatchNormParams& p, const T* x, const T* dy, const T* gamma,
                                  const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const int C = p.C;
  std::vector<double> sums(2 * size_t(C));  // (2, C): sum(dy), sum(dy * xhat)
  blocked_row_sums(p.M, 2 * C, [&](int64_t m, double* acc) {
    for (int c = 0; c < C; ++c) {
      int64_t i = m * C + c;
      double xhat = (double(x[i]) - double(save_mean[c])) * double(save_invstd[c]);
      acc[c] += double(dy[i]);
      acc[C + c] += double(dy[i]) * xhat;
    }
  }, sums.data());
  const double* sum_dy = sums.data();
  const double* sum_dy_xhat = sums.data() + C;
  parallel_for(p.M, grain_rows(C), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int c = 0; c < C; ++c) {
        int64_t i = m * C + c;
        double xhat = (double(x[i]) - double(save_mean[c])) * double(save_invstd[c]);
        double g = double(gamma[c]) * double(save_invstd[c]);
        dx[i] = T(g * (double(dy[i]) - sum_dy[c] / double(p.M) - xhat * sum_dy_xhat[c] / double(p.M)));
      }
  });
  for (int c = 0; c < C; ++c) {
    dgamma[c] = T(sum_dy_xhat[c]);
    dbeta[c] = T(sum_dy[c]);
  }
}

template <typename T>
void batchnorm_backward_eval_cpu(const BatchNormParams& p, const T* x, const T* dy, const T* gamma,
                                 const T* running_mean, const T* running_var, T* dx, T* dgamma, T* dbeta) {
  const int C = p.C;
  std::vector<double> invstd(C), sums(2 * size_t(C));  // (C), (2, C): sum(dy), sum(dy * xhat)
  for (int c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(double(running_var[c]) + p.eps);
  blocked_row_sums(p.M, 2 * C, [&](int64_t m, double* acc) {
    for (int c = 0; c < C; ++c) {
      int64_t i = m * C + c;
      double xhat = (double(x[i]) - double(running_mean[c])) * invstd[c];
      acc[c] += double(dy[i]);
      acc[C + c] += double(dy[i]) * xhat;
      dx[i] = T(double(dy[i]) * double(gamma[c]) * invstd[c]);
    }
  }, sums.data());
  for (int c = 0; c < C; ++c) {
    dgamma[c] = T(sums[C + c]);
    dbeta[c] = T(sums[c]);
  }
}

#define SRGAN_INSTANTIATE(T)                                                                          \
  template void batchnorm_forward_train_cpu<T>(const BatchNormParams&, const T*, const T*, const T*, T*, \
                                               T*, T*, T*, T*);                                      \
  template void batchnorm_forward_eval_cpu<T>(const BatchNormParams&, const T*, const T*, const T*,     \
                                              const T*, const T*, T*);                               \
  template void batchnorm_fold_eval_cpu<T>(const BatchNormParams&, const T*, const T*, const T*, const T*,      \
                                           const T*, T*, T*);                                               \
  template void batchnorm_backward_train_cpu<T>(const BatchNormParams&, const T*, const T*, const T*,   \
                                                const T*, const T*, T*, T*, T*);                     \
  template void batchnorm_backward_eval_cpu<T>(const BatchNormParams&, const T*, const T*, const T*,    \
                                               const T*, const T*, T*, T*, T*);
SRGAN_INSTANTIATE(float)
SRGAN_INSTANTIATE(double)
#undef SRGAN_INSTANTIATE

}  // namespace srgan::kern
