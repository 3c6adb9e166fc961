// Reductions and losses on the GPU (see reduce.h), and column sums (column_sum.h).
//
// Full reductions are two-stage and deterministic: stage 1 has G blocks (G a function of n
// only), block b sums its contiguous chunk in double with a fixed-order block reduction and
// writes partial[b]; stage 2, one block, adds the G partials in a fixed order and writes the
// float result to device memory (no host synchronisation). No floating-point atomics.
#include "kernels/column_sum.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"
#include "kernels/cuda_util.cuh"
#include "kernels/reduce.h"
#include "kernels/scalar_math.h"

namespace srgan::kern {
namespace {
using cuda::kThreads;

struct ReduceShape {
  int G;
  int64_t chunk;
};
ReduceShape reduce_shape(int64_t n) {
  int64_t g = (n + 8191) / 8192;  // ~8K elements per block
  if (g < 1) g = 1;
  if (g > 1024) g = 1024;
  return {int(g), (n + g - 1) / g};
}

// F: __device__ double operator()(int64_t i) const, the term for element i.
template <class F>
__global__ void __launch_bounds__(kThreads) reduce_stage1_kernel(int64_t n, int64_t chunk, F f, double* partial) {
  const int64_t begin = int64_t(blockIdx.x) * chunk;
  const int64_t end = begin + chunk < n ? begin + chunk : n;
  double s = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) s += f(i);
  s = cuda::block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void __launch_bounds__(kThreads) reduce_stage2_kernel(int G, const double* partial, double scale, float* out) {
  double s = 0.0;
  for (int g = threadIdx.x; g < G; g += blockDim.x) s += partial[g];
  s = cuda::block_sum(s);
  if (threadIdx.x == 0) out[0] = float(s * scale);
}

template <class F>
void reduce_to_scalar(int64_t n, const F& f, double scale, float* out, cudaStream_t s) {
  const ReduceShape sh = reduce_shape(n);
  double* partial = static_cast<double*>(cuda::workspace(sizeof(double) * size_t(sh.G), s));
  if (n > 0) {
    reduce_stage1_kernel<F><<<sh.G, kThreads, 0, s>>>(n, sh.chunk, f, partial);
    SRGAN_LAUNCH_CHECK(s);
    reduce_stage2_kernel<<<1, kThreads, 0, s>>>(sh.G, partial, scale, out);
  } else {
    reduce_stage2_kernel<<<1, kThreads, 0, s>>>(0, partial, scale, out);  // writes 0
  }
  SRGAN_LAUNCH_CHECK(s);
}

struct SumTerm {
  const float* x;
  __device__ double operator()(int64_t i) const { return double(x[i]); }
};
struct SqDiffTerm {
  const float *a, *b;
  __device__ double operator()(int64_t i) const {
    const double d = double(a[i]) - double(b[i]);
    return d * d;
  }
};
struct BceTerm {
  const float *x, *t;
  __device__ double operator()(int64_t i) const { return bce_logits_f(double(x[i]), double(t[i])); }
};

// da = g * 2 (a - b) / n with g read on the device; k = 2 g / n and k * (a - b) in double, in
// the CPU reference's order, so the float result is the same.
struct MseBwdF {
  const float *a, *b, *g;
  float* da;
  double n;
  __device__ void operator()(int64_t i) const {
    const double k = 2.0 * double(g[0]) / n;
    da[i] = float(k * (double(a[i]) - double(b[i])));
  }
  __device__ void vec4(int64_t j) const {
    const double k = 2.0 * double(g[0]) / n;
    const float4 u = cuda::ld4(a, j), v = cuda::ld4(b, j);
    cuda::st4(da, j, make_float4(float(k * (double(u.x) - v.x)), float(k * (double(u.y) - v.y)),
                                 float(k * (double(u.z) - v.z)), float(k * (double(u.w) - v.w))));
  }
};
// dx = g * (sigmoid(x) - t) / n, in double like the CPU reference (these tensors are tiny).
struct BceBwdF {
  const float *x, *t, *g;
  float* dx;
  double n;
  __device__ __forceinline__ float one(float xv, float tv, double k) const {
    return float(k * bce_logits_df(double(xv), double(tv)));
  }
  __device__ void operator()(int64_t i) const { dx[i] = one(x[i], t[i], double(g[0]) / n); }
  __device__ void vec4(int64_t j) const {
    const double k = double(g[0]) / n;
    const float4 u = cuda::ld4(x, j), v = cuda::ld4(t, j);
    cuda::st4(dx, j, make_float4(one(u.x, v.x, k), one(u.y, v.y, k), one(u.z, v.z, k), one(u.w, v.w, k)));
  }
};

template <int VEC>
struct ColSumOp {
  const float* x;
  int C;
  struct Col {};
  __device__ Col col(int) const { return {}; }
  __device__ void row(const Col&, int64_t r, int cv, double (&acc)[1][VEC]) const {
    if constexpr (VEC == 4) {
      const float4 v = cuda::ld4(x + r * C, cv);
      acc[0][0] += v.x; acc[0][1] += v.y; acc[0][2] += v.z; acc[0][3] += v.w;
    } else {
      acc[0][0] += x[r * C + cv];
    }
  }
};
struct StoreFin {
  float* out;
  __device__ void operator()(int c, const double (&t)[1]) const { out[c] = float(t[0]); }
};

bool al(const void* p) { return cuda::aligned16(p); }

}  // namespace

void sum_cuda(int64_t n, const float* x, float* out, Stream s) { reduce_to_scalar(n, SumTerm{x}, 1.0, out, s); }

void mse_forward_cuda(int64_t n, const float* a, const float* b, float* out, Stream s) {
  reduce_to_scalar(n, SqDiffTerm{a, b}, n ? 1.0 / double(n) : 0.0, out, s);
}

void mse_backward_cuda(int64_t n, const float* a, const float* b, const float* g, float* da, Stream s) {
  if (n <= 0) return;
  cuda::launch_map(n, al(a) && al(b) && al(da), MseBwdF{a, b, g, da, double(n)}, s);
}

void bce_logits_forward_cuda(int64_t n, const float* x, const float* t, float* out, Stream s) {
  reduce_to_scalar(n, BceTerm{x, t}, n ? 1.0 / double(n) : 0.0, out, s);
}

void bce_logits_backward_cuda(int64_t n, const float* x, const float* t, const float* g, float* dx,
                              Stream s) {
  if (n <= 0) return;
  cuda::launch_map(n, al(x) && al(t) && al(dx), BceBwdF{x, t, g, dx, double(n)}, s);
}

void column_sum_cuda(const float* x, int64_t rows, int cols, float* out, Stream s) {
  if (cols <= 0) return;
  if (rows <= 0) {
    CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(float) * size_t(cols), s));
    return;
  }
  const auto sh = cuda::col_reduce_shape(rows, cols);
  double* partial = static_cast<double*>(cuda::workspace(sizeof(double) * size_t(sh.G) * cols, s));
  if (cols % 4 == 0 && al(x)) {
    cuda::col_reduce_stage1_kernel<4, 1><<<sh.G, kThreads, 0, s>>>(rows, cols, sh.rows_per_block,
                                                                     ColSumOp<4>{x, cols}, partial);
  } else {
    cuda::col_reduce_stage1_kernel<1, 1><<<sh.G, kThreads, 0, s>>>(rows, cols, sh.rows_per_block,
                                                                     ColSumOp<1>{x, cols}, partial);
  }
  SRGAN_LAUNCH_CHECK(s);
  cuda::col_reduce_stage2_kernel<1><<<cols, kThreads, 0, s>>>(sh.G, cols, partial, StoreFin{out});
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern
