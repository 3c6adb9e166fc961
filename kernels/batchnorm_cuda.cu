// Batch normalisation on the GPU (see batchnorm.h), x viewed as (M, C), channel innermost.
//
// v1_two_pass (BatchNormAlgo::v1_two_pass), training forward = two passes over x:
//   pass 1  per-channel statistics with the two-stage column reduction of cuda_util.cuh.
//           Each thread accumulates the shifted sums  S1 = sum (x - k_c),  S2 = sum (x - k_c)^2
//           with k_c = x[0, c] (any sample of the channel works as a shift; it keeps S2/M - (S1/M)^2
//           free of the cancellation that plain sum(x^2) suffers when |mean| >> std). Stage 2
//           adds the per-block partials in double, in a fixed order, and writes save_mean,
//           save_invstd and the running statistics (unbiased variance, PyTorch's convention).
//   pass 2  y = (x - mean) * invstd * gamma + beta, elementwise, float4 when C % 4 == 0.
// Training backward = two passes too: pass 1 reduces sum(dy) and sum(dy * xhat) per channel,
// pass 2 writes dx = gamma * invstd * (dy - sum(dy)/M - xhat * sum(dy*xhat)/M).
// Eval forward is one elementwise pass; eval backward is one pass that writes dx and reduces.
// batchnorm_fused.h: the apply pass can also run PReLU (BN-apply + PReLU epilogue).
// cuDNN's batch norm (BatchNormAlgo::cudnn) is in batchnorm_cudnn.cu.
#include <stdexcept>

#include "kernels/batchnorm.h"
#include "kernels/batchnorm_cudnn.h"
#include "kernels/batchnorm_fused.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"
#include "kernels/cuda_util.cuh"
#include "kernels/scalar_math.h"

namespace srgan::kern {
namespace {
using cuda::kThreads;

// ---- forward statistics -----------------------------------------------------------------------

template <int VEC>
struct StatsOp {
  const float* x;
  int C;
  struct Col { float k[VEC]; };
  __device__ Col col(int cv) const {
    Col c;
#pragma unroll
    for (int v = 0; v < VEC; ++v) c.k[v] = x[cv * VEC + v];  // row 0 as the shift
    return c;
  }
  __device__ void row(const Col& st, int64_t r, int cv, double (&acc)[2][VEC]) const {
    const int64_t i = r * C + int64_t(cv) * VEC;
    float u[VEC];
    if constexpr (VEC == 4) {
      const float4 q = cuda::ld4(x, i / 4);
      u[0] = q.x; u[1] = q.y; u[2] = q.z; u[3] = q.w;
    } else {
      u[0] = x[i];
    }
#pragma unroll
    for (int v = 0; v < VEC; ++v) {
      const float d = u[v] - st.k[v];
      acc[0][v] += d;
      acc[1][v] += double(d) * d;
    }
  }
};

struct StatsFin {
  const float* x;  // row 0 holds the shifts
  int64_t M;
  double eps, momentum;
  float *save_mean, *save_invstd, *running_mean, *running_var;
  __device__ void operator()(int c, const double (&t)[2]) const {
    const double m = double(M);
    const double dmean = t[0] / m;
    double var = t[1] / m - dmean * dmean;  // biased
    if (var < 0.0) var = 0.0;
    const double mean = double(x[c]) + dmean;
    save_mean[c] = float(mean);
    save_invstd[c] = float(1.0 / sqrt(var + eps));
    if (running_mean && running_var) {
      const double unbiased = M > 1 ? var * m / (m - 1.0) : var;
      running_mean[c] = float((1.0 - momentum) * double(running_mean[c]) + momentum * mean);
      running_var[c] = float((1.0 - momentum) * double(running_var[c]) + momentum * unbiased);
    }
  }
};

// y = (x - mean[c]) * (invstd[c] * gamma[c]) + beta[c]; used for train (batch stats) and eval
// (running stats turned into invstd on the fly when `running` is set). With slope_mode != 0
// (batchnorm_fused.h) PReLU follows in the same pass: pre (optional) gets the batch-norm
// output, y the activation; slope_mode 1: one slope, 2: one per channel.
struct ApplyF {
  const float *x, *gamma, *beta, *mean, *istd_or_var;
  float* y;
  int C;
  bool running;  // istd_or_var holds running_var: invstd = 1 / sqrt(var + eps)
  float eps;
  const float* slope = nullptr;
  int slope_mode = 0;
  float* pre = nullptr;
  __device__ __forceinline__ float bn(float u, int c) const {
    const float is = running ? rsqrtf(istd_or_var[c] + eps) : istd_or_var[c];
    return (u - mean[c]) * (is * gamma[c]) + beta[c];
  }
  __device__ __forceinline__ float act(float v, int c) const {
    return slope_mode == 0 ? v : leaky_f(v, slope_mode == 1 ? slope[0] : slope[c]);
  }
  __device__ void operator()(int64_t i) const {
    const int c = int(i % C);
    const float v = bn(x[i], c);
    if (pre) pre[i] = v;
    y[i] = act(v, c);
  }
  // The channel-stationary form (cuda::launch_channel_map): the same float operations as bn()
  // and act(), with each thread's 4 channels' constants loaded once.
  struct Chan {
    float mean[4], scale[4], beta[4], slope[4];
  };
  __device__ Chan channels(int c) const {
    Chan ch;
#pragma unroll
    for (int v = 0; v < 4; ++v) {
      const float is = running ? rsqrtf(istd_or_var[c + v] + eps) : istd_or_var[c + v];
      ch.mean[v] = mean[c + v];
      ch.scale[v] = is * gamma[c + v];
      ch.beta[v] = beta[c + v];
      ch.slope[v] = slope_mode == 0 ? 0.f : slope[slope_mode == 1 ? 0 : c + v];
    }
    return ch;
  }
  __device__ void vec4(int64_t j, const Chan& ch) const {
    const float4 u = cuda::ld4(x, j);
    const float uu[4] = {u.x, u.y, u.z, u.w};
    float v[4], o[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      v[k] = (uu[k] - ch.mean[k]) * ch.scale[k] + ch.beta[k];
      o[k] = slope_mode == 0 ? v[k] : leaky_f(v[k], ch.slope[k]);
    }
    if (pre) cuda::st4(pre, j, make_float4(v[0], v[1], v[2], v[3]));
    cuda::st4(y, j, make_float4(o[0], o[1], o[2], o[3]));
  }
};

// ---- backward ---------------------------------------------------------------------------------

// Accumulates sum(dy) and sum(dy * xhat); with `eval` it also writes dx = dy * gamma * invstd
// (the statistics are constants in eval mode, so dx needs no second pass).
template <int VEC>
struct BwdReduceOp {
  const float *x, *dy, *gamma, *mean, *istd_or_var;
  float* dx;  // written only when eval
  int C;
  bool eval;  // istd_or_var holds running_var
  float eps;
  struct Col { float mean[VEC], istd[VEC], g[VEC]; };
  __device__ Col col(int cv) const {
    Col c;
#pragma unroll
    for (int v = 0; v < VEC; ++v) {
      const int ch = cv * VEC + v;
      c.mean[v] = mean[ch];
      c.istd[v] = eval ? 1.f / sqrtf(istd_or_var[ch] + eps) : istd_or_var[ch];
      c.g[v] = gamma[ch] * c.istd[v];
    }
    return c;
  }
  __device__ void row(const Col& st, int64_t r, int cv, double (&acc)[2][VEC]) const {
    const int64_t i = r * C + int64_t(cv) * VEC;
    float u[VEC], g[VEC];
    if constexpr (VEC == 4) {
      const float4 a = cuda::ld4(x, i / 4), b = cuda::ld4(dy, i / 4);
      u[0] = a.x; u[1] = a.y; u[2] = a.z; u[3] = a.w;
      g[0] = b.x; g[1] = b.y; g[2] = b.z; g[3] = b.w;
    } else {
      u[0] = x[i];
      g[0] = dy[i];
    }
#pragma unroll
    for (int v = 0; v < VEC; ++v) {
      const float xhat = (u[v] - st.mean[v]) * st.istd[v];
      acc[0][v] += g[v];
      acc[1][v] += double(g[v]) * xhat;
    }
    if (eval) {
      if constexpr (VEC == 4) {
        cuda::st4(dx, i / 4, make_float4(g[0] * st.g[0], g[1] * st.g[1], g[2] * st.g[2], g[3] * st.g[3]));
      } else {
        dx[i] = g[0] * st.g[0];
      }
    }
  }
};

// dgamma = sum(dy * xhat), dbeta = sum(dy); for training also the two means dx needs, kept in
// double (see BwdDxF).
struct BwdFin {
  float *dgamma, *dbeta;
  double* coef;  // (2, C): mean(dy), mean(dy * xhat); nullptr in eval mode
  int C;
  int64_t M;
  __device__ void operator()(int c, const double (&t)[2]) const {
    dbeta[c] = float(t[0]);
    dgamma[c] = float(t[1]);
    if (coef) {
      coef[c] = t[0] / double(M);
      coef[C + c] = t[1] / double(M);
    }
  }
};

// dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), in double and rounded once, as
// the CPU path does. In exact arithmetic a channel's dx sums to zero; in float, the rounding of
// the two means shifts every element of the channel the same way, and the shift adds up over
// the M elements. The gradient of a bias just before the batch norm (the discriminator's convs)
// is that sum: float means made it 20x less accurate than the CPU's (found by the CUDA emulator).
// The pass stays memory-bound: three double operations per element.
struct BwdDxF {
  const float *x, *dy, *gamma, *mean, *istd;
  const double* coef;
  float* dx;
  int C;
  __device__ __forceinline__ float one(float u, float g, int c) const {
    const double xhat = (double(u) - double(mean[c])) * double(istd[c]);
    return float(double(gamma[c]) * double(istd[c]) * (double(g) - coef[c] - xhat * coef[C + c]));
  }
  __device__ void operator()(int64_t i) const { dx[i] = one(x[i], dy[i], int(i % C)); }
  // The channel-stationary form (cuda::launch_channel_map): one() expanded as
  // dx = a g + b u + d, with a = gamma istd, b = -a istd mean(dy xhat) and
  // d = a (istd mean(dy xhat) mean - mean(dy)), per channel in double; per element two double
  // FMAs and one rounding to float, as one() (the two forms differ by double rounding only).
  struct Chan {
    double a[4], b[4], d[4];
  };
  __device__ Chan channels(int c) const {
    Chan ch;
#pragma unroll
    for (int v = 0; v < 4; ++v) {
      const double is = double(istd[c + v]), a = double(gamma[c + v]) * is, m2 = coef[C + c + v];
      ch.a[v] = a;
      ch.b[v] = -a * is * m2;
      ch.d[v] = a * (is * m2 * double(mean[c + v]) - coef[c + v]);
    }
    return ch;
  }
  __device__ void vec4(int64_t j, const Chan& ch) const {
    const float4 u = cuda::ld4(x, j), g = cuda::ld4(dy, j);
    cuda::st4(dx, j, make_float4(float(ch.a[0] * double(g.x) + (ch.b[0] * double(u.x) + ch.d[0])),
                                 float(ch.a[1] * double(g.y) + (ch.b[1] * double(u.y) + ch.d[1])),
                                 float(ch.a[2] * double(g.z) + (ch.b[2] * double(u.z) + ch.d[2])),
                                 float(ch.a[3] * double(g.w) + (ch.b[3] * double(u.w) + ch.d[3]))));
  }
};

// The maps of this file: channel-stationary where the float4 form applies (C % 4 == 0, aligned
// tensors), else element by element.
template <class F>
void launch_bn_map(const BatchNormParams& p, bool vec, const F& f, cudaStream_t s) {
  if (vec)
    cuda::launch_channel_map(p.M * p.C, p.C, f, s);
  else
    cuda::launch_scalar_map(p.M * p.C, f, s);
}

bool al(const void* p) { return cuda::aligned16(p); }

void check(const BatchNormParams& p, const char* who) {
  if (p.M < 0 || p.C < 0) throw std::invalid_argument(std::string(who) + ": negative size");
}

// Shared by the two backward functions: pass 1 (reduction, and dx in eval mode).
void backward_reduce(const BatchNormParams& p, const float* x, const float* dy, const float* gamma,
                     const float* mean, const float* istd_or_var, bool eval, float* dx,
                     float* dgamma, float* dbeta, double* coef_out, cudaStream_t s, double* partial) {
  const auto sh = cuda::col_reduce_shape(p.M, p.C);
  const bool vec = p.C % 4 == 0 && al(x) && al(dy) && (!eval || al(dx));
  const float eps = float(p.eps);
  if (vec) {
    cuda::col_reduce_stage1_kernel<4, 2><<<sh.G, kThreads, 0, s>>>(
        p.M, p.C, sh.rows_per_block, BwdReduceOp<4>{x, dy, gamma, mean, istd_or_var, dx, p.C, eval, eps}, partial);
  } else {
    cuda::col_reduce_stage1_kernel<1, 2><<<sh.G, kThreads, 0, s>>>(
        p.M, p.C, sh.rows_per_block, BwdReduceOp<1>{x, dy, gamma, mean, istd_or_var, dx, p.C, eval, eps}, partial);
  }
  SRGAN_LAUNCH_CHECK(s);
  cuda::col_reduce_stage2_kernel<2><<<p.C, kThreads, 0, s>>>(sh.G, p.C, partial,
                                                             BwdFin{dgamma, dbeta, coef_out, p.C, p.M});
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace

namespace {
// Pass 1 of the training forward: per-channel statistics and running-statistics update.
void train_stats(const BatchNormParams& p, const float* x, float* save_mean, float* save_invstd,
                 float* running_mean, float* running_var, cudaStream_t s) {
  const auto sh = cuda::col_reduce_shape(p.M, p.C);
  double* partial = static_cast<double*>(cuda::workspace(sizeof(double) * size_t(sh.G) * 2 * p.C, s));
  if (p.C % 4 == 0 && al(x)) {
    cuda::col_reduce_stage1_kernel<4, 2><<<sh.G, kThreads, 0, s>>>(p.M, p.C, sh.rows_per_block,
                                                                     StatsOp<4>{x, p.C}, partial);
  } else {
    cuda::col_reduce_stage1_kernel<1, 2><<<sh.G, kThreads, 0, s>>>(p.M, p.C, sh.rows_per_block,
                                                                     StatsOp<1>{x, p.C}, partial);
  }
  SRGAN_LAUNCH_CHECK(s);
  cuda::col_reduce_stage2_kernel<2><<<p.C, kThreads, 0, s>>>(
      sh.G, p.C, partial,
      StatsFin{x, p.M, p.eps, p.momentum, save_mean, save_invstd, running_mean, running_var});
  SRGAN_LAUNCH_CHECK(s);
}

bool apply_vec(const BatchNormParams& p, const float* x, const float* y, const float* pre) {
  return p.C % 4 == 0 && al(x) && al(y) && (pre == nullptr || al(pre));
}
}  // namespace

void batchnorm_forward_train_cuda(const BatchNormParams& p, const float* x, const float* gamma,
                                  const float* beta, float* y, float* save_mean, float* save_invstd,
                                  float* running_mean, float* running_var, BatchNormAlgo algo, Stream s) {
  check(p, "batchnorm_forward_train_cuda");
  if (p.M == 0 || p.C == 0) return;  // no batch statistics exist; nothing is written
  if (algo == BatchNormAlgo::cudnn)
    return batchnorm_forward_train_cudnn(p, x, gamma, beta, y, save_mean, save_invstd, running_mean,
                                         running_var, s);
  if (algo != BatchNormAlgo::v1_two_pass)
    throw std::invalid_argument("batchnorm_forward_train_cuda: unknown BatchNormAlgo");
  train_stats(p, x, save_mean, save_invstd, running_mean, running_var, s);
  launch_bn_map(p, apply_vec(p, x, y, nullptr),
                ApplyF{x, gamma, beta, save_mean, save_invstd, y, p.C, false, float(p.eps)}, s);
}

void batchnorm_prelu_forward_train_cuda(const BatchNormParams& p, const float* x, const float* gamma,
                                        const float* beta, const float* slope, bool per_channel,
                                        float* y, float* pre, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, Stream s) {
  check(p, "batchnorm_prelu_forward_train_cuda");
  if (p.M == 0 || p.C == 0) return;
  train_stats(p, x, save_mean, save_invstd, running_mean, running_var, s);
  ApplyF f{x, gamma, beta, save_mean, save_invstd, y, p.C, false, float(p.eps)};
  f.slope = slope;
  f.slope_mode = per_channel ? 2 : 1;
  f.pre = pre;
  launch_bn_map(p, apply_vec(p, x, y, pre), f, s);
}

void batchnorm_prelu_forward_eval_cuda(const BatchNormParams& p, const float* x, const float* gamma,
                                       const float* beta, const float* running_mean,
                                       const float* running_var, const float* slope, bool per_channel,
                                       float* y, float* pre, Stream s) {
  check(p, "batchnorm_prelu_forward_eval_cuda");
  if (p.M == 0 || p.C == 0) return;
  ApplyF f{x, gamma, beta, running_mean, running_var, y, p.C, true, float(p.eps)};
  f.slope = slope;
  f.slope_mode = per_channel ? 2 : 1;
  f.pre = pre;
  launch_bn_map(p, apply_vec(p, x, y, pre), f, s);
}

void batchnorm_forward_eval_cuda(const BatchNormParams& p, const float* x, const float* gamma,
                                 const float* beta, const float* running_mean,
                                 const float* running_var, float* y, Stream s) {
  check(p, "batchnorm_forward_eval_cuda");
  if (p.M == 0 || p.C == 0) return;
  launch_bn_map(p, apply_vec(p, x, y, nullptr),
                ApplyF{x, gamma, beta, running_mean, running_var, y, p.C, true, float(p.eps)}, s);
}

namespace {
// One thread per channel, in double as the CPU version.
__global__ void fold_eval_kernel(int C, double eps, const float* gamma, const float* beta, const float* mean,
                                 const float* var, const float* bias, float* scale, float* shift) {
  const int c = int(blockIdx.x) * blockDim.x + int(threadIdx.x);
  if (c >= C) return;
  const double a = double(gamma[c]) / sqrt(double(var[c]) + eps);
  scale[c] = float(a);
  shift[c] = float((double(bias ? bias[c] : 0.f) - double(mean[c])) * a + double(beta[c]));
}
}  // namespace

void batchnorm_fold_eval_cuda(const BatchNormParams& p, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, const float* bias,
                              float* scale, float* shift, Stream s) {
  if (p.C < 0) throw std::invalid_argument("batchnorm_fold_eval_cuda: negative channel count");
  if (p.C == 0) return;
  fold_eval_kernel<<<(p.C + cuda::kThreads - 1) / cuda::kThreads, cuda::kThreads, 0, s>>>(
      p.C, p.eps, gamma, beta, running_mean, running_var, bias, scale, shift);
  SRGAN_LAUNCH_CHECK(s);
}

void batchnorm_backward_train_cuda(const BatchNormParams& p, const float* x, const float* dy,
                                   const float* gamma, const float* save_mean,
                                   const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                                   BatchNormAlgo algo, Stream s) {
  check(p, "batchnorm_backward_train_cuda");
  if (p.C == 0) return;
  if (p.M == 0) {
    CUDA_CHECK(cudaMemsetAsync(dgamma, 0, sizeof(float) * size_t(p.C), s));
    CUDA_CHECK(cudaMemsetAsync(dbeta, 0, sizeof(float) * size_t(p.C), s));
    return;
  }
  if (algo == BatchNormAlgo::cudnn)
    return batchnorm_backward_train_cudnn(p, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, s);
  if (algo != BatchNormAlgo::v1_two_pass)
    throw std::invalid_argument("batchnorm_backward_train_cuda: unknown BatchNormAlgo");
  const auto sh = cuda::col_reduce_shape(p.M, p.C);
  // Workspace: stage-1 partials (G, 2, C), then the two per-channel means (2, C), all double.
  const size_t part_bytes = cuda::align256(sizeof(double) * size_t(sh.G) * 2 * p.C);
  char* ws = static_cast<char*>(cuda::workspace(part_bytes + sizeof(double) * 2 * size_t(p.C), s));
  double* partial = reinterpret_cast<double*>(ws);
  double* coef = reinterpret_cast<double*>(ws + part_bytes);
  backward_reduce(p, x, dy, gamma, save_mean, save_invstd, false, nullptr, dgamma, dbeta, coef, s, partial);
  launch_bn_map(p, p.C % 4 == 0 && al(x) && al(dy) && al(dx),
                BwdDxF{x, dy, gamma, save_mean, save_invstd, coef, dx, p.C}, s);
}

void batchnorm_backward_eval_cuda(const BatchNormParams& p, const float* x, const float* dy,
                                  const float* gamma, const float* running_mean,
                                  const float* running_var, float* dx, float* dgamma, float* dbeta,
                                  Stream s) {
  check(p, "batchnorm_backward_eval_cuda");
  if (p.C == 0) return;
  if (p.M == 0) {
    CUDA_CHECK(cudaMemsetAsync(dgamma, 0, sizeof(float) * size_t(p.C), s));
    CUDA_CHECK(cudaMemsetAsync(dbeta, 0, sizeof(float) * size_t(p.C), s));
    return;
  }
  const auto sh = cuda::col_reduce_shape(p.M, p.C);
  double* partial = static_cast<double*>(cuda::workspace(sizeof(double) * size_t(sh.G) * 2 * p.C, s));
  backward_reduce(p, x, dy, gamma, running_mean, running_var, true, dx, dgamma, dbeta, nullptr, s, partial);
}

}  // namespace srgan::kern
