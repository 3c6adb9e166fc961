// Fully connected layer on the GPU through our GEMM (see linear.h), PyTorch's weight layout:
//   forward         y (M, Out)  = x (M, In) * w^T          gemm(no, trans), then + b per row
//   backward-data   dx (M, In)  = dy (M, Out) * w (Out, In) gemm(no, no)
//   backward-weight dw (Out, In) = dy^T * x                gemm(trans, no); db = column sums of dy
// The GemmAlgo picks our tiled FMA kernel, the TF32 tensor-core kernel or cuBLAS.
#include <stdexcept>

#include "kernels/column_sum.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/linear.h"

namespace srgan::kern {
namespace {

// y[m, o] += b[o]
struct BiasRowF {
  float* y;
  const float* b;
  int Out;
  __device__ void operator()(int64_t i) const { y[i] += b[int(i % Out)]; }
  __device__ void vec4(int64_t j) const {
    const int o = int((j * 4) % Out);
    float4 v = cuda::ld4(y, j);
    v.x += b[o]; v.y += b[o + 1]; v.z += b[o + 2]; v.w += b[o + 3];
    cuda::st4(y, j, v);
  }
};

void check(const LinearParams& p, const char* who) {
  if (p.M < 0 || p.In < 0 || p.Out < 0) throw std::invalid_argument(std::string(who) + ": negative size");
}

}  // namespace

void linear_forward_cuda(const LinearParams& p, const float* x, const float* w, const float* b, float* y,
                         GemmAlgo algo, Stream s) {
  check(p, "linear_forward_cuda");
  if (p.M == 0 || p.Out == 0) return;
  GemmParams g;
  g.transA = false;
  g.transB = true;
  g.M = p.M;
  g.N = p.Out;
  g.K = p.In;
  g.lda = p.In > 0 ? p.In : 1;
  g.ldb = p.In > 0 ? p.In : 1;
  g.ldc = p.Out;
  gemm_cuda(g, x, w, y, algo, s);
  if (b) cuda::launch_map(int64_t(p.M) * p.Out, p.Out % 4 == 0 && cuda::aligned16(y), BiasRowF{y, b, p.Out}, s);
}

void linear_backward_data_cuda(const LinearParams& p, const float* dy, const float* w, float* dx,
                               GemmAlgo algo, Stream s) {
  check(p, "linear_backward_data_cuda");
  if (p.M == 0 || p.In == 0) return;
  GemmParams g;
  g.M = p.M;
  g.N = p.In;
  g.K = p.Out;
  g.lda = p.Out > 0 ? p.Out : 1;
  g.ldb = p.In;
  g.ldc = p.In;
  gemm_cuda(g, dy, w, dx, algo, s);
}

void linear_backward_weight_cuda(const LinearParams& p, const float* x, const float* dy, float* dw,
                                 float* db, GemmAlgo algo, Stream s) {
  check(p, "linear_backward_weight_cuda");
  if (p.Out == 0) return;
  if (p.In > 0) {
    GemmParams g;
    g.transA = true;  // op(A) = dy^T (Out, M), dy stored (M, Out)
    g.M = p.Out;
    g.N = p.In;
    g.K = p.M;
    g.lda = p.Out;
    g.ldb = p.In;
    g.ldc = p.In;
    gemm_cuda(g, dy, x, dw, algo, s);
  }
  if (db) column_sum_cuda(dy, p.M, p.Out, db, s);
}

}  // namespace srgan::kern
