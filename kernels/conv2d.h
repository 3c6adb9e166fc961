// 2-D convolution, NHWC activations and KRSC weights: parameter struct and every implementation.
//   x  (N, H, W, C)    w (K, R, S, C)    b (K) or nullptr    y (N, P, Q, K)
// CPU (CpuConvAlgo): a plain-loop reference (ground truth, float and double), Winograd
// F(4x4, 3x3) and F(2x2, 3x3) for 3x3 stride-1 layers with 16+ channels (the default where it
// applies), and im2col + GEMM (OpenBLAS for float) for every other layer; users without a GPU
// train with the last two. CUDA: variants selected by ConvAlgo.
#pragma once
#include <vector>

#include "kernels/common.h"

namespace srgan::kern {

struct Conv2dParams {
  int N = 0, H = 0, W = 0, C = 0;  // input
  int K = 0, R = 0, S = 0;         // output channels, kernel rows, kernel cols
  int stride = 1, pad = 0;         // same in both spatial dimensions (PyTorch's zero padding)
  int P() const { return (H + 2 * pad - R) / stride + 1; }  // output rows
  int Q() const { return (W + 2 * pad - S) / stride + 1; }  // output cols
  double flops() const { return 2.0 * N * P() * Q() * K * R * S * C; }  // forward MACs * 2
};

// ---- CPU reference: plain loops. Each overwrites its outputs. ----
template <typename T>
void conv2d_forward_cpu_ref(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y);
template <typename T>
void conv2d_backward_data_cpu_ref(const Conv2dParams& p, const T* dy, const T* w, T* dx);
// db may be nullptr (no bias).
template <typename T>
void conv2d_backward_weight_cpu_ref(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db);

// ---- CPU im2col + GEMM: same contract, uses a thread-local scratch buffer for columns. ----
template <typename T>
void conv2d_forward_cpu_gemm(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y);
template <typename T>
void conv2d_backward_data_cpu_gemm(const Conv2dParams& p, const T* dy, const T* w, T* dx);
template <typename T>
void conv2d_backward_weight_cpu_gemm(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db);

// ---- CPU Winograd F(m x m, 3x3), m = 2 or 4, for 3x3 stride-1 convolutions with pad <= 2 and at
// least 16 channels in and out (conv2d_winograd_applies): forward, backward-data and
// backward-weight (F(3x3, m x m)); the GEMMs go through OpenBLAS. ----
bool conv2d_winograd_applies(const Conv2dParams& p);
// Which CPU convolution the ops run: the reference loops (slow, exact), im2col + GEMM, or
// Winograd F(2x2)/F(4x4) where it applies (im2col + GEMM elsewhere).
enum class CpuConvAlgo { reference, im2col, winograd_f2, winograd_f4 };
const char* cpu_conv_algo_name(CpuConvAlgo a);
template <typename T>
void conv2d_forward_cpu_winograd(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y, int m = 4);
template <typename T>
void conv2d_backward_data_cpu_winograd(const Conv2dParams& p, const T* dy, const T* w, T* dx, int m = 4);
// db may be nullptr (no bias).
template <typename T>
void conv2d_backward_weight_cpu_winograd(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, int m = 4);

// ---- CUDA (float only). Outputs are overwritten. ----
enum class ConvAlgo {
  v1_direct = 1,                // one thread per output element, easy to read
  v2_smem_tiled = 2,            // shared-memory tiles of input and weights
  v3_implicit_gemm_tf32 = 3,    // implicit GEMM on tensor cores (TF32 mma.sync), NHWC
  v4_implicit_gemm_tf32_multistage = 4,  // v3 rebuilt: 128-row tiles, ldmatrix, 3-stage cp.async, split-K
  v5_implicit_gemm_bf16_multistage = 5,  // v4's engine with BF16 operands (mma.m16n8k16), fp32 in memory
  v6_halo_tile_tf32 = 6,        // 3x3 stride-1 layers from a shared-memory input halo (weights resident, or
                                // streamed with it from 128 channels on), and the
                                // <= 4-output tail on tensor cores; v4 elsewhere
  v7_halo_tile_bf16 = 7,        // v6 with BF16 operands (mma.m16n8k16; its tail path stays TF32); v5 elsewhere
  v8_halo_wgmma_tf32 = 8,       // v6 with its 3x3 passes gathering 64 channels into 64 k (forward and
                                // backward-data) on Hopper's wgmma fed by the bulk tensor copy engine (sm_90a,
                                // compute capability 9.0 only); v6 elsewhere
  cudnn = 100,                  // baseline behind the same signature
};
const char* conv_algo_name(ConvAlgo a);

// The variant table: every CUDA convolution, in ladder order, with what it takes. The ops, the
// CUDA tests and both benchmarks (bench kernels, bench counters) read it, so a new version is a
// kernel file and one row here.
// What a variant's multiply-adds take: fp32 on the CUDA cores, or each fp32 input rounded for
// the tensor cores to TF32 (10 mantissa bits: results differ from fp32 by ~1e-3 relative) or to
// BF16 (7 bits: ~1e-2). Accumulation is fp32 in every case; tensors stay fp32 in memory.
enum class ConvMath { fp32, tf32, bf16 };
const char* conv_math_name(ConvMath m);  // "fp32", "tf32", "bf16"

struct ConvVariant {
  ConvAlgo algo;
  const char* name;
  ConvMath math;  // its main path's (its fallbacks may compute more precisely: `takes` says)
  bool library;   // a library baseline (cuDNN), not ours
  const char* takes;  // which shapes it runs itself; the rest fall back as said
};
const std::vector<ConvVariant>& conv_variants();
// Ours, fastest by `srgan bench counters`' H100 estimate (docs/performance.md 3b), for each math:
// v2_smem_tiled (fp32), v6_halo_tile_tf32 (TF32), v7_halo_tile_bf16 (BF16: v6's kernel, whose
// network estimate is 0.1 to 0.2 ms under v6's and 0.8 to 8 ms under v5's).
ConvAlgo default_conv_algo(ConvMath math);

void conv2d_forward_cuda(const Conv2dParams& p, const float* x, const float* w, const float* b,
                         float* y, ConvAlgo algo, Stream s);
void conv2d_backward_data_cuda(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                               ConvAlgo algo, Stream s);
void conv2d_backward_weight_cuda(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                                 float* db, ConvAlgo algo, Stream s);

}  // namespace srgan::kern
