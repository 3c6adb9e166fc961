// Elementwise arithmetic on the GPU (see elementwise.h). Each op is one grid-stride kernel
// (cuda_util.cuh's map_kernel) reading and writing float4 when every pointer is 16-byte aligned,
// with a scalar tail. In-place use (y == a, y == x) is allowed: each element is read before it
// is written by the same thread, so no pointer is marked __restrict__.
#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/elementwise.h"

namespace srgan::kern {
namespace {
using cuda::ld4;
using cuda::st4;

struct AddF {
  const float *a, *b;
  float* y;
  __device__ void operator()(int64_t i) const { y[i] = a[i] + b[i]; }
  __device__ void vec4(int64_t j) const {
    const float4 u = ld4(a, j), v = ld4(b, j);
    st4(y, j, make_float4(u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w));
  }
};
struct MulF {
  const float *a, *b;
  float* y;
  __device__ void operator()(int64_t i) const { y[i] = a[i] * b[i]; }
  __device__ void vec4(int64_t j) const {
    const float4 u = ld4(a, j), v = ld4(b, j);
    st4(y, j, make_float4(u.x * v.x, u.y * v.y, u.z * v.z, u.w * v.w));
  }
};
struct ScaleF {
  const float* x;
  float s;
  float* y;
  __device__ void operator()(int64_t i) const { y[i] = s * x[i]; }
  __device__ void vec4(int64_t j) const {
    const float4 u = ld4(x, j);
    st4(y, j, make_float4(s * u.x, s * u.y, s * u.z, s * u.w));
  }
};
struct AxpyF {
  float alpha;
  const float* x;
  float* y;
  __device__ void operator()(int64_t i) const { y[i] += alpha * x[i]; }
  __device__ void vec4(int64_t j) const {
    const float4 u = ld4(x, j);
    float4 v = ld4(y, j);
    v.x += alpha * u.x; v.y += alpha * u.y; v.z += alpha * u.z; v.w += alpha * u.w;
    st4(y, j, v);
  }
};
struct FillF {
  float v;
  float* y;
  __device__ void operator()(int64_t i) const { y[i] = v; }
  __device__ void vec4(int64_t j) const { st4(y, j, make_float4(v, v, v, v)); }
};
// y = s * (*g): g is read on the device, so no host synchronisation is needed.
struct BroadcastF {
  const float* g;
  float s;
  float* y;
  __device__ void operator()(int64_t i) const { y[i] = s * g[0]; }
  __device__ void vec4(int64_t j) const {
    const float v = s * g[0];
    st4(y, j, make_float4(v, v, v, v));
  }
};
// y[m, c] = x[m, c] * scale[c] + shift[c]; with C % 4 == 0 a float4 never straddles two rows.
struct ChannelAffineF {
  int C;
  const float *x, *scale, *shift;
  float* y;
  __device__ void operator()(int64_t i) const {
    const int c = int(i % C);
    y[i] = x[i] * scale[c] + shift[c];
  }
  __device__ void vec4(int64_t j) const {
    const int c = int((j * 4) % C);
    const float4 u = ld4(x, j);
    st4(y, j, make_float4(u.x * scale[c] + shift[c], u.y * scale[c + 1] + shift[c + 1],
                          u.z * scale[c + 2] + shift[c + 2], u.w * scale[c + 3] + shift[c + 3]));
  }
};

bool al(const void* p) { return cuda::aligned16(p); }

}  // namespace

void add_cuda(int64_t n, const float* a, const float* b, float* y, Stream s) {
  cuda::launch_map(n, al(a) && al(b) && al(y), AddF{a, b, y}, s);
}
void mul_cuda(int64_t n, const float* a, const float* b, float* y, Stream s) {
  cuda::launch_map(n, al(a) && al(b) && al(y), MulF{a, b, y}, s);
}
void scale_cuda(int64_t n, const float* x, float sc, float* y, Stream s) {
  cuda::launch_map(n, al(x) && al(y), ScaleF{x, sc, y}, s);
}
void axpy_cuda(int64_t n, float alpha, const float* x, float* y, Stream s) {
  cuda::launch_map(n, al(x) && al(y), AxpyF{alpha, x, y}, s);
}
void fill_cuda(int64_t n, float v, float* y, Stream s) { cuda::launch_map(n, al(y), FillF{v, y}, s); }
void broadcast_scalar_cuda(int64_t n, const float* g, float sc, float* y, Stream s) {
  cuda::launch_map(n, al(y), BroadcastF{g, sc, y}, s);
}
void channel_affine_cuda(int64_t M, int C, const float* x, const float* scale, const float* shift,
                         float* y, Stream s) {
  if (C <= 0) return;
  cuda::launch_map(M * C, C % 4 == 0 && al(x) && al(y), ChannelAffineF{C, x, scale, shift, y}, s);
}

}  // namespace srgan::kern
