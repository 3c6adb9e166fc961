// Host launchers of the CUDA emulator's self-test kernels (selftest_kernels.cu): small kernels
// that each exercise one thing the emulator promises (tests/cuda_emu/test_emulator.cpp).
#pragma once
#include <cuda_runtime.h>

namespace srgan::emu::selftest {

// blocks x 64 threads. Block 0 writes all 64 elements of a __shared__ array, every other block
// only the first 32; then each thread copies element threadIdx.x to out[block * 64 + thread].
// out: (blocks, 64).
void launch_partly_written_shared(float* out, int blocks);

// `blocks` blocks that all write their index to out[0]: a write-write race between blocks.
void launch_conflicting_writes(float* out, int blocks);

// One block of 64 threads where thread 0 returns before a __syncthreads the others wait at.
void launch_divergent_barrier(float* out);

// One thread: out[0..3] = in[0..3] read as one float4 and stored as one float4 (cuda_util.cuh's
// ld4 / st4). in and out must be 16-byte aligned, or the launch faults.
void launch_float4_copy(const float* in, float* out);

}  // namespace srgan::emu::selftest
