// Device helpers shared by the hand-written kernels (internal to kernels/*.cu):
//   * launch-size helpers and alignment tests for the float4 fast paths,
//   * deterministic block reductions (fixed summation order: the same inputs give the same
//     bits on every run, unlike atomicAdd on floats),
//   * a two-stage column reduction over an (M, C) row-major matrix, the shape of every
//     per-channel statistic on NHWC data (batch-norm statistics, PReLU slope gradient, bias
//     gradients): stage 1 has G blocks each reduce a band of rows into partial[G][NACC][C];
//     stage 2 has one block per channel sum the G partials in order. G depends only on (M, C),
//     so results do not depend on the GPU model either. Both stages accumulate in double, as
//     the CPU path does: these sums often cancel to nearly zero (the gradient of a bias just
//     before a batch norm), where float partial sums were 20x less accurate than the CPU's.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "kernels/cuda_check.h"

namespace srgan::kern::cuda {

constexpr int kThreads = 256;  // default block size of the elementwise and reduction kernels

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Grid for a grid-stride loop over `work` items: enough blocks to fill the GPU, never zero.
inline int grid_for(int64_t work, int threads = kThreads, int64_t max_blocks = 4096) {
  int64_t b = (work + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > max_blocks) b = max_blocks;
  return int(b);
}

// Over 48 KiB of dynamic shared memory needs a kernel's limit raised, once per process and
// instantiation. `bytes` is the most the kernel's launcher ever asks for (the first call's value
// is the one kept).
template <auto Kernel>
void allow_dynamic_smem(int bytes) {
  static const bool raised = [bytes] {
    CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(Kernel), cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    bytes));
    return true;
  }();
  (void)raised;
}

// ---- deterministic reductions -----------------------------------------------------------

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;  // lane 0 holds the sum
}

// Sum of one value per thread over the whole block, in a fixed order. Every thread of the
// block must call it (it synchronises). The result is valid in thread 0. blockDim.x must be a
// multiple of 32 and at most 1024.
template <typename T>
__device__ T block_sum(T v) {
  __shared__ T warp_part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // warp_part may still be read by a previous call
  if (lane == 0) warp_part[warp] = v;
  __syncthreads();
  T total = T(0);
  if (threadIdx.x == 0) {
    const int nwarps = int(blockDim.x) >> 5;
    for (int w = 0; w < nwarps; ++w) total += warp_part[w];
  }
  return total;
}

// ---- two-stage column reduction -----------------------------------------------------------
//
// The functor Op used by stage 1 provides
//   struct Col { ... };                                   // per-column state (e.g. a shift)
//   __device__ Col col(int cv) const;                      // cv = vector column index
//   __device__ void row(const Col&, int64_t row, int cv, double (&acc)[NACC][VEC]) const;
// and may write elementwise outputs for the element it reads (e.g. dx) inside row().
// With VEC == 4 a "vector column" is 4 consecutive channels (C % 4 == 0, aligned pointers).

struct ColReduceShape {
  int G = 1;                // number of stage-1 blocks (row bands)
  int64_t rows_per_block = 0;
};

// Depends on (M, C) only, never on the device, so the summation order is fixed.
inline ColReduceShape col_reduce_shape(int64_t M, int C) {
  ColReduceShape s;
  int64_t target_rows = std::max<int64_t>(32, 16384 / std::max(C, 1));  // ~16K elements a block
  int64_t g = (M + target_rows - 1) / target_rows;
  s.G = int(std::max<int64_t>(1, std::min<int64_t>(g, 1024)));
  s.rows_per_block = (M + s.G - 1) / s.G;
  if (s.rows_per_block < 1) s.rows_per_block = 1;
  return s;
}

template <int VEC, int NACC, class Op>
__global__ void __launch_bounds__(kThreads)
col_reduce_stage1_kernel(int64_t M, int C, int64_t rows_per_block, Op op, double* partial) {
  // partial (G, NACC, C)
  __shared__ double red[NACC][VEC][kThreads];
  const int Cv = C / VEC;
  const int lanes_c = Cv < kThreads ? Cv : kThreads;
  const int lanes_r = kThreads / lanes_c;
  const int tid = threadIdx.x;
  const int lc = tid % lanes_c, lr = tid / lanes_c;
  const bool active = lr < lanes_r;
  const int64_t row0 = int64_t(blockIdx.x) * rows_per_block;
  const int64_t row1 = row0 + rows_per_block < M ? row0 + rows_per_block : M;

  for (int cb = 0; cb < Cv; cb += lanes_c) {
    const int cv = cb + lc;
    double acc[NACC][VEC];
#pragma unroll
    for (int a = 0; a < NACC; ++a)
#pragma unroll
      for (int v = 0; v < VEC; ++v) acc[a][v] = 0.0;
    if (active && cv < Cv) {
      const auto st = op.col(cv);
      for (int64_t r = row0 + lr; r < row1; r += lanes_r) op.row(st, r, cv, acc);
    }
#pragma unroll
    for (int a = 0; a < NACC; ++a)
#pragma unroll
      for (int v = 0; v < VEC; ++v) red[a][v][tid] = acc[a][v];
    __syncthreads();
    // Row lane 0 of each column adds the other row lanes' sums in order.
    if (lr == 0 && cv < Cv) {
#pragma unroll
      for (int a = 0; a < NACC; ++a)
#pragma unroll
        for (int v = 0; v < VEC; ++v) {
          double s = 0.0;
          for (int j = 0; j < lanes_r; ++j) s += red[a][v][j * lanes_c + lc];
          partial[(int64_t(blockIdx.x) * NACC + a) * C + cv * VEC + v] = s;
        }
    }
    __syncthreads();  // red is reused by the next column chunk
  }
}

// Stage 2: block c sums partial[:, a, c] over the G row bands (in order, in double) for each a
// and calls fin(c, totals) in thread 0. Fin: __device__ void operator()(int c, const double (&)[NACC]).
template <int NACC, class Fin>
__global__ void __launch_bounds__(kThreads)
col_reduce_stage2_kernel(int G, int C, const double* partial, Fin fin) {
  const int c = blockIdx.x;
  double tot[NACC];
#pragma unroll
  for (int a = 0; a < NACC; ++a) {
    double s = 0.0;
    for (int g = threadIdx.x; g < G; g += blockDim.x) s += partial[(int64_t(g) * NACC + a) * C + c];
    tot[a] = block_sum(s);
  }
  if (threadIdx.x == 0) fin(c, tot);
}

// Stage 2 for a reduction over all columns together (e.g. a single PReLU slope):
// one block, fin(0, totals) with totals[a] = sum over g and c of partial[g, a, c].
template <int NACC, class Fin>
__global__ void __launch_bounds__(kThreads)
col_reduce_stage2_all_kernel(int G, int C, const double* partial, Fin fin) {
  double tot[NACC];
  const int64_t total = int64_t(G) * C;
#pragma unroll
  for (int a = 0; a < NACC; ++a) {
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < total; i += blockDim.x) {
      const int64_t g = i / C, c = i % C;
      s += partial[(g * NACC + a) * C + c];
    }
    tot[a] = block_sum(s);
  }
  if (threadIdx.x == 0) fin(0, tot);
}

// ---- elementwise maps ---------------------------------------------------------------------
// A functor F provides  __device__ void operator()(int64_t i) const   (element i) and
//                       __device__ void vec4(int64_t j) const         (elements 4j .. 4j+3, with
//                                                                      16-byte loads/stores).
// map_kernel runs vec4 over the n/4 full vectors and the scalar form over the n%4 tail when
// `vec` is set (the caller checked that every pointer is 16-byte aligned), else scalars only.
template <class F>
__global__ void __launch_bounds__(kThreads) map_kernel(int64_t n, bool vec, F f) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (vec) {
    const int64_t n4 = n / 4;
    for (int64_t j = tid; j < n4; j += stride) f.vec4(j);
    for (int64_t i = n4 * 4 + tid; i < n; i += stride) f(i);
  } else {
    for (int64_t i = tid; i < n; i += stride) f(i);
  }
}

template <class F>
void launch_map(int64_t n, bool vec, const F& f, cudaStream_t s) {
  if (n <= 0) return;
  map_kernel<F><<<grid_for(vec ? (n + 3) / 4 : n, kThreads, 8192), kThreads, 0, s>>>(n, vec, f);
  SRGAN_LAUNCH_CHECK(s);
}

// Element by element only (F provides operator() alone).
template <class F>
__global__ void __launch_bounds__(kThreads) scalar_map_kernel(int64_t n, F f) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}
template <class F>
void launch_scalar_map(int64_t n, const F& f, cudaStream_t s) {
  if (n <= 0) return;
  scalar_map_kernel<F><<<grid_for(n, kThreads, 8192), kThreads, 0, s>>>(n, f);
  SRGAN_LAUNCH_CHECK(s);
}

// A map over an (M, C) channel-last tensor in float4s where each thread keeps the same 4
// channels for its whole grid-stride loop: the grid's threads times 4 is a multiple of C, so
// the functor reads its per-channel constants once per thread, not once per element. F provides
//   __device__ Chan channels(int c) const             (the constants of channels c .. c + 3) and
//   __device__ void vec4(int64_t j, const Chan&) const (elements 4j .. 4j+3).
// Needs C % 4 == 0 and 16-byte aligned tensors (the caller checks; otherwise launch_scalar_map).
// With C / 4 <= 256 channel groups, thread t of a block has the group of thread t % (C / 4), so
// the first C / 4 threads read the constants once for the block (shared memory).
template <class F>
__global__ void __launch_bounds__(kThreads) channel_map_kernel(int64_t n4, int C, F f) {
  __shared__ typename F::Chan block_ch[kThreads];
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int t = int(threadIdx.x), groups = C / 4, c = int((tid * 4) % C);
  typename F::Chan ch;
  if (groups <= int(blockDim.x)) {  // the same for the whole block
    if (t < groups) block_ch[t] = f.channels(c);
    __syncthreads();
    ch = block_ch[t % groups];
  } else {
    ch = f.channels(c);
  }
  for (int64_t j = tid; j < n4; j += stride) f.vec4(j, ch);
}
template <class F>
void launch_channel_map(int64_t n, int C, const F& f, cudaStream_t s) {
  if (n <= 0) return;
  const int64_t n4 = n / 4;                              // n = M * C, C % 4 == 0
  const int64_t unit = C / std::gcd(C, 4 * kThreads);  // blocks whose threads x 4 fill whole rows
  // 8 blocks per SM of a 132-SM H100 at most (full occupancy): on the large tensors each thread
  // then loops over many float4s, which pays for its channels' loads.
  int64_t blocks = grid_for(n4, kThreads, 132 * 8);
  blocks = (blocks + unit - 1) / unit * unit;
  channel_map_kernel<F><<<unsigned(blocks), kThreads, 0, s>>>(n4, C, f);
  SRGAN_LAUNCH_CHECK(s);
}

// Element j of p viewed as float4: p + 4 j must be 16-byte aligned (a GPU faults otherwise; the
// CUDA emulator checks it).
// The emulated build copies the 16 bytes in one move, so its counters see one 16-byte access
// (LDG.128), not the four scalar loads the host compiler would otherwise make of the struct.
__device__ __forceinline__ float4 ld4(const float* p, int64_t j) {
#ifdef SRGAN_CUDA_EMU
  ::srgan::emu::check_vector_access(p + 4 * j, 16, "float4 load");
  float4 v;
  __builtin_memcpy(&v, p + 4 * j, 16);
  return v;
#else
  return reinterpret_cast<const float4*>(p)[j];
#endif
}
__device__ __forceinline__ void st4(float* p, int64_t j, float4 v) {
#ifdef SRGAN_CUDA_EMU
  ::srgan::emu::check_vector_access(p + 4 * j, 16, "float4 store");
  __builtin_memcpy(p + 4 * j, &v, 16);
#else
  reinterpret_cast<float4*>(p)[j] = v;
#endif
}

// A 16-byte shared-memory load (LDS.128) from a 16-byte aligned address; the emulated build
// copies the 16 bytes in one move, so its counters see one access.
__device__ __forceinline__ float4 lds128(const float* p) {
#ifdef SRGAN_CUDA_EMU
  float4 v;
  __builtin_memcpy(&v, p, 16);
  return v;
#else
  return *reinterpret_cast<const float4*>(p);
#endif
}

// ---- cp.async (sm_80+): global -> shared copies that bypass registers --------------------
// src_bytes == 0 writes zeros (used for padding and out-of-range elements); the source
// address must still be a valid pointer, so callers pass the tensor's base in that case.
// Built for the CPU emulator (tests/cuda_emu), each instruction is the emulator's model of it.

#ifdef SRGAN_CUDA_EMU
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem, bool valid) {
  ::srgan::emu::cp_async(smem, gmem, 4, valid ? 4 : 0);
}
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  ::srgan::emu::cp_async(smem, gmem, 16, valid ? 16 : 0);
}
__device__ __forceinline__ void cp_async_commit() { ::srgan::emu::cp_async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { ::srgan::emu::cp_async_wait(N); }
#else
__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem),
               "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }
#endif

// ---- ldmatrix (sm_75+): a warp loads N 8x8 matrices of 16-bit elements from shared memory ----
// Lanes 8i..8i+7 give the addresses of matrix i's eight 16-byte rows; lane l receives in r[i] the
// 32-bit word l % 4 of row l / 4 of matrix i. Read as 32-bit elements (TF32), an 8x4 tile of
// row-major floats arrives exactly as the a0/a2 (or b0/b1) fragment of mma.m16n8k8: lane
// (g = l/4, t = l%4) gets element [g][t].
template <int N>
__device__ __forceinline__ void ldmatrix(uint32_t (&r)[N], const void* row) {
  static_assert(N == 1 || N == 2 || N == 4, "ldmatrix loads 1, 2 or 4 matrices");
#ifdef SRGAN_CUDA_EMU
  ::srgan::emu::ldmatrix(r, N, row);
#else
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(row));
  if constexpr (N == 4)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  else if constexpr (N == 2)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(a));
#endif
}

}  // namespace srgan::kern::cuda
