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

// ---- counter self-tests (tests/cuda_emu/test_emu_counters.cpp), one warp unless said ----
void launch_strided_load(const float* in, float* out, int stride);  // in: 32 * stride floats
void launch_float4_load(const float* in, float* out);              // 128 floats each
void launch_shared_stride(float* out, int stride);                 // out: 32 floats
void launch_divergent_loads(const float* in, float* out);          // in: 128 floats, out: 32
void launch_ldmatrix_tile(float* out, int pad);                    // out: 128 floats
void launch_two_barriers(float* out, int blocks);                  // blocks x 64 threads; out: 64
// One block of 128 threads with 64 KiB of dynamic shared memory, after raising the kernel's limit
// with cudaFuncSetAttribute or not (then the launch must fail). out: 2 floats.
void launch_big_dynamic_smem(float* out, bool raise_limit);

// ---- Hopper instructions (emu_hopper.cpp) ----
// out (64, 64) = 2 A B^T from a (64, 8) and b (64, 8), row-major, by two chained wgmma.m64n64k8
// (TF32) of one warpgroup from unswizzled K-major tiles with gaps between their core matrices.
void launch_wgmma_tile(const float* a, const float* b, float* out);
// x (1, H, W, 8) as a tensor map (8, W, H, 1); the box (4, 6, 5, 1) at (c, xc, yc, 0) by the bulk
// tensor copy: out[0] = its first float read before the wait, out[1 .. 120] = the box. False if
// the tensor map could not be encoded.
bool launch_tma_box(const float* x, int H, int W, int c, int xc, int yc, float* out);
// Waits on an mbarrier of 2 arrivals that gets 1: the launch must fail. out: 32 floats.
void launch_mbarrier_short(float* out);

}  // namespace srgan::emu::selftest
