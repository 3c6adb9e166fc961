// PReLU on the GPU (see prelu.h), x viewed as (M, C) with the channel innermost (NHWC).
//   forward:  one elementwise pass, float4 when aligned (a float4 never straddles two rows when
//             C % 4 == 0, so the four slopes are a[c..c+3]).
//   backward: dx = dy * leaky_df(x, a) and the slope gradient da = sum dy * leaky_dslope(x),
//             fused in one read of x and dy: stage 1 of the column reduction (cuda_util.cuh)
//             writes dx for every element it reads and per-block channel partials; stage 2
//             sums the partials in a fixed order, per channel (per_channel) or over all
//             channels (one shared slope). Deterministic, no atomics.
#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"
#include "kernels/cuda_util.cuh"
#include "kernels/prelu.h"
#include "kernels/scalar_math.h"

namespace srgan::kern {
namespace {
using cuda::kThreads;

// x and y may alias (in-place PReLU), so they are not __restrict__.
struct PreluFwdF {
  const float *x, *a;
  float* y;
  int C;
  bool per_channel;
  __device__ void operator()(int64_t i) const { y[i] = leaky_f(x[i], a[per_channel ? int(i % C) : 0]); }
  __device__ void vec4(int64_t j) const {
    const float4 u = cuda::ld4(x, j);
    float s0, s1, s2, s3;
    if (per_channel) {
      const int c = int((j * 4) % C);
      s0 = a[c]; s1 = a[c + 1]; s2 = a[c + 2]; s3 = a[c + 3];
    } else {
      s0 = s1 = s2 = s3 = a[0];
    }
    cuda::st4(y, j, make_float4(leaky_f(u.x, s0), leaky_f(u.y, s1), leaky_f(u.z, s2), leaky_f(u.w, s3)));
  }
};

template <int VEC>
struct PreluBwdOp {
  const float *x, *a, *dy;
  float* dx;
  int C;
  bool per_channel;
  struct Col { float s[VEC]; };
  __device__ Col col(int cv) const {
    Col c;
#pragma unroll
    for (int v = 0; v < VEC; ++v) c.s[v] = a[per_channel ? cv * VEC + v : 0];
    return c;
  }
  __device__ void row(const Col& st, int64_t r, int cv, double (&acc)[1][VEC]) const {
    const int64_t i = r * C + int64_t(cv) * VEC;
    if constexpr (VEC == 4) {
      const float4 u = cuda::ld4(x, i / 4), g = cuda::ld4(dy, i / 4);
      cuda::st4(dx, i / 4, make_float4(g.x * leaky_df(u.x, st.s[0]), g.y * leaky_df(u.y, st.s[1]),
                                       g.z * leaky_df(u.z, st.s[2]), g.w * leaky_df(u.w, st.s[3])));
      acc[0][0] += double(g.x) * leaky_dslope(u.x);
      acc[0][1] += double(g.y) * leaky_dslope(u.y);
      acc[0][2] += double(g.z) * leaky_dslope(u.z);
      acc[0][3] += double(g.w) * leaky_dslope(u.w);
    } else {
      const float u = x[i], g = dy[i];
      dx[i] = g * leaky_df(u, st.s[0]);
      acc[0][0] += double(g) * leaky_dslope(u);
    }
  }
};

struct StoreFin {
  float* out;
  __device__ void operator()(int c, const double (&t)[1]) const { out[c] = float(t[0]); }
};

}  // namespace

void prelu_forward_cuda(const PreluParams& p, const float* x, const float* a, float* y, Stream s) {
  if (p.M <= 0 || p.C <= 0) return;
  const bool vec = (!p.per_channel || p.C % 4 == 0) && cuda::aligned16(x) && cuda::aligned16(y);
  cuda::launch_map(p.M * p.C, vec, PreluFwdF{x, a, y, p.C, p.per_channel}, s);
}

void prelu_backward_cuda(const PreluParams& p, const float* x, const float* a, const float* dy,
                         float* dx, float* da, Stream s) {
  if (p.C <= 0) return;
  const int nslopes = p.per_channel ? p.C : 1;
  if (p.M <= 0) {
    CUDA_CHECK(cudaMemsetAsync(da, 0, sizeof(float) * size_t(nslopes), s));
    return;
  }
  const auto sh = cuda::col_reduce_shape(p.M, p.C);
  double* partial = static_cast<double*>(cuda::workspace(sizeof(double) * size_t(sh.G) * p.C, s));
  const bool vec = p.C % 4 == 0 && cuda::aligned16(x) && cuda::aligned16(dy) && cuda::aligned16(dx);
  if (vec) {
    cuda::col_reduce_stage1_kernel<4, 1><<<sh.G, kThreads, 0, s>>>(
        p.M, p.C, sh.rows_per_block, PreluBwdOp<4>{x, a, dy, dx, p.C, p.per_channel}, partial);
  } else {
    cuda::col_reduce_stage1_kernel<1, 1><<<sh.G, kThreads, 0, s>>>(
        p.M, p.C, sh.rows_per_block, PreluBwdOp<1>{x, a, dy, dx, p.C, p.per_channel}, partial);
  }
  SRGAN_LAUNCH_CHECK(s);
  if (p.per_channel) {
    cuda::col_reduce_stage2_kernel<1><<<p.C, kThreads, 0, s>>>(sh.G, p.C, partial, StoreFin{da});
  } else {
    cuda::col_reduce_stage2_all_kernel<1><<<1, kThreads, 0, s>>>(sh.G, p.C, partial, StoreFin{da});
  }
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern
