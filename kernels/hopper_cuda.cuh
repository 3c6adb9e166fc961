// Hopper's own instructions (sm_90a), as small device functions: the mbarrier, the bulk tensor copy
// engine (TMA: cp.async.bulk.tensor, described by a CUtensorMap the host encodes) and the
// warpgroup matrix multiply (wgmma.mma_async, TF32, both operands in shared memory).
//
// They exist only in code built for sm_90a (-gencode arch=compute_90a,code=sm_90a, which
// defines __CUDA_ARCH_FEAT_SM90_ALL); elsewhere each traps, and the host launches such a kernel
// only on a device of compute capability 9.0. Built for the CPU emulator (tests/cuda_emu), each is
// the emulator's model of it (emu_hopper.cpp), written from the PTX ISA.
//
// wgmma's operands are "K-major, no swizzle" tiles (PTX ISA, "Shared Memory Matrix Layout"): core
// matrices of 8 rows x 16 bytes (4 TF32 elements of K), the 8 rows 16 bytes apart; a descriptor
// gives the start, the byte distance from a core matrix to the next along K (leading byte offset)
// and to the next 8 rows (stride byte offset).
#pragma once
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace srgan::kern::cuda::hopper {

#if defined(SRGAN_CUDA_EMU)
#define SRGAN_HOPPER(emu, ptx) emu
#elif defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SRGAN_HOPPER(emu, ptx) ptx
#else
#define SRGAN_HOPPER(emu, ptx) __trap()
#endif

// The shared-state-space address of p (cvta.to.shared).
__device__ __forceinline__ uint32_t shared_u32(const void* p) {
#if defined(SRGAN_CUDA_EMU)
  return ::srgan::emu::shared_address(p);
#else
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
#endif
}

// ---- mbarrier ----------------------------------------------------------------------------------

__device__ __forceinline__ void mbarrier_init(uint64_t* bar, int count) {
  SRGAN_HOPPER(::srgan::emu::mbarrier_init(bar, count),
               asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_u32(bar)), "r"(count) : "memory"));
}
// Makes the initialised barriers visible to the bulk copy engine (before any copy uses them).
__device__ __forceinline__ void fence_barrier_init() {
  SRGAN_HOPPER((void)0, asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"));
}
// Arrives on bar after adding `bytes` to the transactions its current phase waits for.
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  SRGAN_HOPPER(::srgan::emu::mbarrier_arrive_expect_tx(bar, bytes),
               asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(shared_u32(bar)),
                            "r"(bytes)
                            : "memory"));
}
// Waits until the phase of bar with this parity has completed.
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t parity) {
#if defined(SRGAN_CUDA_EMU)
  (void)::srgan::emu::mbarrier_try_wait_parity(bar, parity);  // faults where a GPU would wait forever
#elif defined(__CUDA_ARCH_FEAT_SM90_ALL)
  uint32_t done = 0;
  while (!done)
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(shared_u32(bar)), "r"(parity)
        : "memory");
#else
  __trap();
#endif
}

// ---- the bulk tensor copy ----------------------------------------------------------------------

// The box of `map` at coordinates (c0, c1, c2, c3) (dimension 0 innermost; elements outside the
// tensor arrive as zeros) into dst (128-byte aligned), completing its bytes on bar. One thread
// issues it.
__device__ __forceinline__ void tma_load_4d(void* dst, const CUtensorMap* map, int c0, int c1, int c2, int c3,
                                            uint64_t* bar) {
#if defined(SRGAN_CUDA_EMU)
  const int c[4] = {c0, c1, c2, c3};
  ::srgan::emu::cp_async_bulk_tensor_4d(dst, map, c, bar);
#elif defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], "
      "[%6];\n" ::"r"(shared_u32(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(shared_u32(bar))
      : "memory");
#else
  __trap();
#endif
}

// Orders this thread's ordinary shared-memory writes before later reads by wgmma or the copy
// engine (the async proxy).
__device__ __forceinline__ void fence_proxy_async() {
  SRGAN_HOPPER((void)0, asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"));
}

// ---- wgmma -------------------------------------------------------------------------------------

// A shared-memory matrix descriptor: start address, leading and stride byte offsets (each a
// multiple of 16, below 256 KiB), no swizzle, base offset 0 (PTX ISA, "Matrix Descriptor Format").
__host__ __device__ constexpr uint64_t wgmma_desc(uint32_t start, uint32_t lbo, uint32_t sbo) {
  return uint64_t((start >> 4) & 0x3fff) | uint64_t((lbo >> 4) & 0x3fff) << 16 | uint64_t((sbo >> 4) & 0x3fff) << 32;
}

__device__ __forceinline__ void wgmma_fence() {
  SRGAN_HOPPER(::srgan::emu::wgmma_fence(), asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"));
}
__device__ __forceinline__ void wgmma_commit() {
  SRGAN_HOPPER(::srgan::emu::wgmma_commit(), asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"));
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  SRGAN_HOPPER(::srgan::emu::wgmma_wait(N), asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"));
}

// d (this thread's 32 accumulators of a 64 x 64 fp32 tile) += A (64 x 8, desc a) * B (64 x 8,
// desc b)^T, TF32 (the upper 19 bits of each operand float). A warpgroup instruction: all 128
// threads issue it with the same descriptors; thread (warp w, lane g * 4 + t) holds in d[i] row
// 16 w + g + 8 ((i / 2) % 2), column 8 (i / 4) + 2 t + i % 2.
__device__ __forceinline__ void wgmma_m64n64k8_tf32(float (&d)[32], uint64_t a, uint64_t b) {
#if defined(SRGAN_CUDA_EMU)
  ::srgan::emu::wgmma_m64k8_tf32(d, 64, a, b, true);
#elif defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "%32, %33, p, 1, 1;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(a), "l"(b), "r"(1));  // scale-d = 1: d += A B
#else
  __trap();
#endif
}

#undef SRGAN_HOPPER

}  // namespace srgan::kern::cuda::hopper
