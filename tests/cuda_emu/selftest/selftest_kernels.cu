// The CUDA emulator's self-test kernels (see selftest_kernels.h), built through the same launch
// rewriting as kernels/*.cu.
#include "tests/cuda_emu/selftest/selftest_kernels.h"

#include "kernels/cuda_util.cuh"

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

}  // namespace

void launch_partly_written_shared(float* out, int blocks) { partly_written_shared<<<blocks, 64>>>(out); }
void launch_conflicting_writes(float* out, int blocks) { conflicting_writes<<<blocks, 32>>>(out); }
void launch_divergent_barrier(float* out) { divergent_barrier<<<1, 64>>>(out); }
void launch_float4_copy(const float* in, float* out) { float4_copy<<<1, 1>>>(in, out); }

}  // namespace srgan::emu::selftest
