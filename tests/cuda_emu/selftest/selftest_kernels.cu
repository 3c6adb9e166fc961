// The CUDA emulator's self-test kernels (see selftest_kernels.h), built through the same launch
// rewriting as kernels/*.cu.
#include "tests/cuda_emu/selftest/selftest_kernels.h"

#include <cuda.h>
#include <cudaTypedefs.h>

#include "kernels/cuda_util.cuh"
#include "kernels/hopper_cuda.cuh"

namespace srgan::emu::selftest {
namespace {

__global__ void partly_written_shared(float* out) {
  __shared__ float tile[64];
  const int t = int(threadIdx.x);
  if (blockIdx.x == 0 || t < 32) tile[t] = 1.0f;
  __syncthreads();
  out[blockIdx.x * 64 + t] = tile[t];  // elements 32..63 are unwritten in blocks after the first
}

__global__ void conflicting_writes(float* out) {
  if (threadIdx.x == 0) out[0] = float(blockIdx.x);
}

__global__ void divergent_barrier(float* out) {
  if (threadIdx.x == 0) return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void float4_copy(const float* in, float* out) {
  ::srgan::kern::cuda::st4(out, 0, ::srgan::kern::cuda::ld4(in, 0));
}

// ---- counter self-tests: one warp each, known answers ----

// Lane l reads in[l * stride] and writes it to out[l]: stride 1 = 4 sectors per request, 32 = 32.
__global__ void strided_load(const float* in, float* out, int stride) {
  const int l = int(threadIdx.x);
  out[l] = in[l * stride];
}

// Lane l reads the float4 at in + 4l: 16 sectors for the warp's 512 bytes.
__global__ void float4_load(const float* in, float* out) {
  const int l = int(threadIdx.x);
  ::srgan::kern::cuda::st4(out, l, ::srgan::kern::cuda::ld4(in, l));
}

// Shared memory: every lane writes its own word, then reads word (l * stride) % 1024 of a
// 1024-float tile (stride 32: all lanes in bank 0, 32 wavefronts; stride 0: one word, a
// broadcast, 1 wavefront; stride 2: 2-way conflict).
__global__ void shared_stride(float* out, int stride) {
  __shared__ float tile[1024];
  const int l = int(threadIdx.x);
  for (int i = l; i < 1024; i += 32) tile[i] = float(i);
  __syncthreads();
  out[l] = tile[(l * stride) % 1024];
}

// Half the lanes load (a divergent branch): one request of 16 lanes. Then lane l loads l % 4
// times in a loop: requests for iterations 0, 1 and 2 (24, 16 and 8 lanes).
__global__ void divergent_loads(const float* in, float* out) {
  const int l = int(threadIdx.x);
  float v = 0.f;
  if (l % 2) v = in[l];
  for (int i = 0; i < l % 4; ++i) v += in[32 + i * 32 + l];
  out[l] = v;
}

// One warp: ldmatrix.x4 of four 8x4-float matrices stored row-major in a [32][4 + pad] tile;
// out[l * 4 + i] = the word lane l received for matrix i. pad 0: rows 16 bytes apart, each
// 8-row matrix is 128 contiguous bytes (1 wavefront each); pad 4: rows 32 bytes apart, two
// rows share banks (2 wavefronts each).
__global__ void ldmatrix_tile(float* out, int pad) {
  __shared__ __align__(16) float tile[32 * 8];
  const int l = int(threadIdx.x);
  const int ld = 4 + pad;
  for (int i = l; i < 32 * 8; i += 32) tile[i] = -1.f;
  __syncthreads();
  for (int c = 0; c < 4; ++c) tile[l * ld + c] = float(l * 4 + c);  // row l = matrix l/8, row l%8
  __syncthreads();
  uint32_t r[4];
  ::srgan::kern::cuda::ldmatrix<4>(r, &tile[l * ld]);
  for (int i = 0; i < 4; ++i) reinterpret_cast<uint32_t*>(out)[l * 4 + i] = r[i];  // the bits as loaded
}

// Every warp of the block passes two barriers: 2 barrier instructions per warp.
__global__ void two_barriers(float* out) {
  __syncthreads();
  __syncthreads();
  out[threadIdx.x] = 0.f;
}

// ---- Hopper (emu_hopper.cpp) ----
namespace hp = srgan::kern::cuda::hopper;

// A (64 x 8) and B (64 x 8), row-major in global memory, into K-major unswizzled core matrices with
// gaps between them (A: next 8 rows 256 bytes on, next 4 of K 2,048 bytes on; B: 128 and 1,024),
// then d = A B^T + A B^T by two chained wgmma in one group; thread (warp w, lane 4 g + t) writes
// its d[i] to out[row][col] (row 16 w + g + 8 ((i / 2) % 2), column 8 (i / 4) + 2 t + i % 2).
__global__ void wgmma_tile(const float* a, const float* b, float* out) {
  extern __shared__ __align__(128) unsigned char sm[];
  unsigned char* const as = sm;          // 4,096 bytes
  unsigned char* const bs = sm + 4096;   // 2,048 bytes
  const int tid = int(threadIdx.x);
  for (int i = tid; i < 64 * 8; i += 128) {
    const int r = i / 8, k = i % 8;
    *reinterpret_cast<float*>(as + (r / 8) * 256 + (r % 8) * 16 + (k / 4) * 2048 + (k % 4) * 4) = a[i];
    *reinterpret_cast<float*>(bs + (r / 8) * 128 + (r % 8) * 16 + (k / 4) * 1024 + (k % 4) * 4) = b[i];
  }
  hp::fence_proxy_async();
  __syncthreads();
  float d[32];
  for (int i = 0; i < 32; ++i) d[i] = 0.f;
  const uint64_t da = hp::wgmma_desc(hp::shared_u32(as), 2048, 256), db = hp::wgmma_desc(hp::shared_u32(bs), 1024, 128);
  hp::wgmma_fence();
  hp::wgmma_m64n64k8_tf32(d, da, db);
  hp::wgmma_m64n64k8_tf32(d, da, db);
  hp::wgmma_commit();
  hp::wgmma_wait<0>();
  const int w = tid / 32, g = (tid % 32) / 4, t = tid % 4;
  for (int i = 0; i < 32; ++i) out[(16 * w + g + 8 * ((i / 2) % 2)) * 64 + 8 * (i / 4) + 2 * t + i % 2] = d[i];
}

// Thread 0 brings the box (4 channels, 6 columns, 5 rows, 1 image) at (c, x, y, 0) of map into
// shared memory on an mbarrier; out[0] = what the box's first float reads before the wait, then
// every thread waits and the box (120 floats) goes to out[1 ..].
__global__ void tma_box(const __grid_constant__ CUtensorMap map, int c, int x, int y, float* out) {
  extern __shared__ __align__(128) unsigned char sm[];
  float* const box = reinterpret_cast<float*>(sm);  // [5][6][4]
  uint64_t* const bar = reinterpret_cast<uint64_t*>(sm + 512);
  if (threadIdx.x == 0) {
    hp::mbarrier_init(bar, 1);
    hp::fence_barrier_init();
    hp::mbarrier_arrive_expect_tx(bar, 120 * 4);
    hp::tma_load_4d(box, &map, c, x, y, 0, bar);
    out[0] = box[0];
  }
  __syncthreads();
  hp::mbarrier_wait(bar, 0);
  for (int i = int(threadIdx.x); i < 120; i += int(blockDim.x)) out[1 + i] = box[i];
}

// A barrier of 2 arrivals that gets 1: every thread's wait would never end.
__global__ void mbarrier_short(float* out) {
  extern __shared__ __align__(128) unsigned char sm[];
  uint64_t* const bar = reinterpret_cast<uint64_t*>(sm);
  if (threadIdx.x == 0) {
    hp::mbarrier_init(bar, 2);
    hp::mbarrier_arrive_expect_tx(bar, 0);
  }
  __syncthreads();
  hp::mbarrier_wait(bar, 0);
  out[threadIdx.x] = 1.f;
}

}  // namespace

// Outside the anonymous namespace: its exported name is how cudaFuncSetAttribute finds it in the
// emulator. Fills 64 KiB of dynamic shared memory, then writes its first and last float.
__global__ void big_dynamic_smem(float* out) {
  extern __shared__ __align__(16) float dyn[];
  const int n = 64 * 1024 / 4;
  for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) dyn[i] = float(i);
  __syncthreads();
  if (threadIdx.x == 0) out[0] = dyn[0], out[1] = dyn[n - 1];
}

void launch_strided_load(const float* in, float* out, int stride) { strided_load<<<1, 32>>>(in, out, stride); }
void launch_float4_load(const float* in, float* out) { float4_load<<<1, 32>>>(in, out); }
void launch_shared_stride(float* out, int stride) { shared_stride<<<1, 32>>>(out, stride); }
void launch_divergent_loads(const float* in, float* out) { divergent_loads<<<1, 32>>>(in, out); }
void launch_ldmatrix_tile(float* out, int pad) { ldmatrix_tile<<<1, 32>>>(out, pad); }
void launch_two_barriers(float* out, int blocks) { two_barriers<<<blocks, 64>>>(out); }
void launch_big_dynamic_smem(float* out, bool raise_limit) {
  if (raise_limit)
    cudaFuncSetAttribute(reinterpret_cast<const void*>(&big_dynamic_smem), cudaFuncAttributeMaxDynamicSharedMemorySize,
                         64 * 1024);
  big_dynamic_smem<<<1, 128, 64 * 1024>>>(out);
}

void launch_partly_written_shared(float* out, int blocks) { partly_written_shared<<<blocks, 64>>>(out); }
void launch_conflicting_writes(float* out, int blocks) { conflicting_writes<<<blocks, 32>>>(out); }
void launch_divergent_barrier(float* out) { divergent_barrier<<<1, 64>>>(out); }
void launch_float4_copy(const float* in, float* out) { float4_copy<<<1, 1>>>(in, out); }

void launch_wgmma_tile(const float* a, const float* b, float* out) { wgmma_tile<<<1, 128, 6144>>>(a, b, out); }
bool launch_tma_box(const float* x, int H, int W, int c, int xc, int yc, float* out) {
  void* f = nullptr;
  cudaDriverEntryPointQueryResult q{};
  if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q) != cudaSuccess || !f)
    return false;
  CUtensorMap map;
  const cuuint64_t dims[4] = {8, cuuint64_t(W), cuuint64_t(H), 1};
  const cuuint64_t strides[3] = {8 * 4, cuuint64_t(W) * 8 * 4, cuuint64_t(H) * W * 8 * 4};
  const cuuint32_t box[4] = {4, 6, 5, 1}, ones[4] = {1, 1, 1, 1};
  if (reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f)(
          &map, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 4, const_cast<float*>(x), dims, strides, box, ones,
          CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_NONE,
          CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS)
    return false;
  tma_box<<<1, 32, 1024>>>(map, c, xc, yc, out);
  return true;
}
void launch_mbarrier_short(float* out) { mbarrier_short<<<1, 32, 128>>>(out); }

}  // namespace srgan::emu::selftest
