// A CUDA emulator for machines without a GPU: our kernels/*.cu, compiled by the host compiler,
// run thread by thread on the CPU. It exists so the hand-written kernels are executed and held
// against the CPU references on every CI run, not only in the rare session that is lent a GPU.
//
// This header is force-included (g++ -include) into every kernel source of the emulated build.
// The build first rewrites each launch (tests/cuda_emu/rewrite_launches.cpp):
//   k<<<grid, block, smem, stream>>>(args)  ->
//   ::srgan::emu::LaunchConfig(grid, block, smem, stream).run("k", [](auto... a) { k(a...); }, args)
// and the few PTX instructions we use (cp.async, cvt.rna.tf32, cvt.rn.bf16x2, mma.sync, ldmatrix, and
// Hopper's mbarrier, cp.async.bulk.tensor and wgmma) have an SRGAN_CUDA_EMU branch beside their
// inline assembly that calls the functions declared here.
//
// Execution model (emu_scheduler.cpp; the runtime API is emu_runtime_api.cpp): a launch runs its blocks one after another (spread
// over a few host threads); inside a block every CUDA thread is a fiber (emu_context.h) with its
// own stack, and the fibers run one at a time until they reach __syncthreads, a warp collective or
// the end. So:
//   * __shared__ variables are per-host-thread statics, reused block after block, and filled with
//     0xFF bytes (NaN) when a block first reaches their declaration;
//   * __syncthreads releases the block only when every thread that has not exited arrives; a
//     thread that exits while others wait, or a warp collective whose lanes are missing, is an
//     error (the emulated launch fails like a faulting kernel would);
//   * cp.async fills its destination with NaN at issue and lands the data only at
//     cp.async.wait_group, so reading a tile before its wait, or refilling a tile that other
//     threads still read, gives NaN (on the GPU it would give a wrong value some of the time);
//   * between barriers the fibers run in thread order or reversed, each kernel's launches
//     alternating (SRGAN_EMU_ORDER=mixed, the default; forward|reverse|alternate fix one; ctest
//     -L emu_orders runs every emulated test forward and reversed), so a shared-memory race shows up as a
//     wrong result in one of the two orders; blocks are taken last-first on reversed launches,
//     so a race between blocks shows up the same way;
//   * device memory is inaccessible to host code except while device work runs
//     (emu_device_memory.cpp): a host dereference of a device pointer faults, as on a GPU.
// What it cannot show: speed, memory-model subtleties beyond barriers (the async proxy's fences
// included), whether all four warps of a warpgroup issue each wgmma, a misreading of the PTX ISA
// shared by a kernel and this model of it, and anything of cuDNN or cuBLAS (their entry points fail
// with a clear error). Passing here is not passing on a GPU.
#pragma once

#ifndef SRGAN_CUDA_EMU
#error "cuda_emu.h is only for the emulated build (SRGAN_CUDA_EMU)"
#endif

// Qualifiers: must be defined before the CUDA headers, which keep definitions they find.
#define __shared__ static thread_local
#define __launch_bounds__(...)
#define __grid_constant__

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

// Built-in variables, set by the emulator's scheduler before it resumes a thread.
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

namespace srgan::emu {

// ---- collectives, implemented by the scheduler ---------------------------------------------

void syncthreads();
// Exchange within the calling warp: every lane named in `mask` contributes `bytes` (<= 64) from
// `mine`; returns the 32 lanes' slots (lane l's bytes at l * kWarpSlotBytes), readable until the
// caller's next collective.
constexpr size_t kWarpSlotBytes = 64;
const unsigned char* warp_exchange(unsigned mask, const void* mine, size_t bytes);
int lane_id();  // linear thread index % 32

// Called by every thread right after each `__shared__` declaration (the build adds the call): the
// first thread of a block to get there fills the variable with 0xFF bytes (NaN as a float, -1 as
// an integer). Shared memory starts undefined on a GPU; here it would otherwise hold what the
// previous block on this host thread left, which hides reads of elements a block never wrote.
void fresh_shared_bytes(void* p, size_t bytes);
template <class T>
void fresh_shared(T& v) {
  static_assert(std::is_trivially_copyable_v<std::remove_all_extents_t<T>>, "__shared__ of a non-trivial type");
  fresh_shared_bytes(&v, sizeof(T));
}

// Called by every thread at the start of every kernel (the build inserts
// `struct EmuKernelTag {}; ::srgan::emu::kernel_entry(typeid(EmuKernelTag).name());` after the
// kernel's opening brace): the tag's type name holds the kernel's mangled name, which the
// counters report and the dynamic shared-memory check (above 48 KiB) looks up.
void kernel_entry(const char* tag);
// `extern __shared__ T name[];` becomes `T* name = static_cast<T*>(dynamic_shared());`: the
// launch's dynamic shared memory (its third launch parameter), 128-byte aligned, 0xFF at the start
// of every block.
void* dynamic_shared();

// ---- PTX instructions ------------------------------------------------------------------------

// cp.async.{ca,cg}.shared.global [dst], [src], bytes, src_bytes: queued in the calling thread's
// open group; the copy (src_bytes from src, zeros up to bytes) happens at cp_async_wait.
void cp_async(void* dst, const void* src, int bytes, int src_bytes);
void cp_async_commit();         // cp.async.commit_group
void cp_async_wait(int n);      // cp.async.wait_group n: all but the n most recent groups land
uint32_t cvt_rna_tf32(float x); // cvt.rna.tf32.f32
// cvt.rn.bf16x2.f32 d, a, b: both rounded to bfloat16 to nearest even (NaN stays a quiet NaN), a in
// the upper half of d and b in the lower (PTX ISA, "cvt").
uint32_t cvt_rn_bf16x2(float a, float b);
// A vector access (ld/st.global.v4.f32 and the like) of `bytes` at p: on a GPU a misaligned one
// faults ("misaligned address"), while an x86 host would quietly do it; so the emulated kernel
// faults too. kernels/cuda_util.cuh's ld4/st4 call it.
void check_vector_access(const void* p, int bytes, const char* what);
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 d, a, b, d (warp collective), with the
// fragment layout of the PTX ISA written out independently of the kernels' helpers.
void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 d, a, b, d (warp collective): each 32-bit
// register holds two bf16 elements, the lower-numbered column (A) or row (B) in the lower half.
void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);
// ldmatrix.sync.aligned.m8n8.x{1,2,4}.shared.b16 (warp collective): lanes 8i..8i+7 give the 16-byte
// rows of matrix i (row_addr, shared memory, 16-byte aligned; ignored on the other lanes); lane l
// receives in r[i] the 32-bit word l % 4 of row l / 4 of matrix i (PTX ISA, "Warp-level matrix
// load instruction: ldmatrix"). count = 1, 2 or 4.
void ldmatrix(uint32_t* r, int count, const void* row_addr);

// ---- Hopper (sm_90a) instructions, emu_hopper.cpp: only on the launch's dynamic shared memory ----
// A shared-memory address as the PTX state space sees it (cvta.to.shared): here the offset of p
// in the launch's dynamic shared memory (a fault if p lies outside it).
uint32_t shared_address(const void* p);
// mbarrier.init.shared::cta.b64 [bar], count: a barrier of `count` arrivals per phase, phase 0.
// The emulated mbarrier keeps its state in its own 8 bytes: arrivals left (16 bits), arrivals
// per phase (16), transaction bytes left (31) and the phase's parity (1).
void mbarrier_init(void* bar, int count);
// mbarrier.arrive.expect_tx.shared::cta.b64 _, [bar], bytes: adds `bytes` to the transaction
// count of the current phase, then arrives.
void mbarrier_arrive_expect_tx(void* bar, uint32_t bytes);
// mbarrier.try_wait.parity.shared::cta.b64 p, [bar], parity: lands the bulk copies issued on the
// barrier (cp_async_bulk_tensor below), then true when the phase of that parity has completed.
// A GPU thread would spin until then; a fiber cannot (the others run only at a barrier), so a
// wait that cannot complete with the arrivals made so far is a fault ("would wait forever").
bool mbarrier_try_wait_parity(void* bar, uint32_t parity);
// cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// [dst], [tmap, {c0, c1, c2, c3}], [bar]: the box at coordinates c (innermost first; elements
// outside the tensor read as zero) into dst, box dimension 0 innermost. dst reads as NaN until
// the copy lands, at a wait on bar; the whole box's bytes count against bar's transaction count.
// tmap: a CUtensorMap written by the emulated cuTensorMapEncodeTiled (cudaGetDriverEntryPoint*).
void cp_async_bulk_tensor_4d(void* dst, const void* tmap, const int (&c)[4], void* bar);
// wgmma.fence / commit_group / wait_group n (warpgroup collectives: every thread calls them).
void wgmma_fence();
void wgmma_commit();
void wgmma_wait(int n);
// wgmma.mma_async.sync.aligned.m64n{n}k8.f32.tf32.tf32 {d}, desc_a, desc_b, scale_d, 1, 1: both
// operands in shared memory, K-major, no swizzle (PTX ISA, "Matrix Descriptor Format" and
// "Shared Memory Matrix Layout"), d = the n / 2 accumulators of this thread. Queued in the open
// group; the product is formed at wgmma_wait from shared memory as it is then, so a tile
// overwritten before the wait gives a wrong result.
void wgmma_m64k8_tf32(float* d, int n, uint64_t desc_a, uint64_t desc_b, bool scale_d);

// ---- launches -----------------------------------------------------------------------------------

// Runs body() once per thread of every block (see the execution model above), or records the
// launch when `s` is being captured into a CUDA graph. Launch errors (bad configuration) and
// kernel errors (barrier divergence) are reported through the emulated runtime's error state,
// as cudaGetLastError / cudaDeviceSynchronize would.
void launch(const char* kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t s, std::function<void()> body);

// What a rewritten launch constructs: LaunchConfig(grid, block, smem, stream).run("name", call,
// args...), where call is a generic lambda making the original call kernel(a...). The arguments
// are copied here, when the launch is issued (as CUDA copies them); every CUDA thread then calls
// `call` with its own copies, converted to the parameter types as a launch converts them.
struct LaunchConfig {
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  LaunchConfig(dim3 g, dim3 b, size_t sm = 0, cudaStream_t s = nullptr) : grid(g), block(b), smem(sm), stream(s) {}
  template <class Call, class... Args>
  void run(const char* kernel, Call call, Args&&... args) const {
    launch(kernel, grid, block, smem, stream,
           [call, saved = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)] { std::apply(call, saved); });
  }
};

}  // namespace srgan::emu

// ---- device intrinsics used by the kernels ----------------------------------------------------

inline void __syncthreads() { ::srgan::emu::syncthreads(); }

template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  static_assert(sizeof(T) <= 64 && std::is_trivially_copyable_v<T>, "shuffle of an unsupported type");
  const unsigned char* slots = ::srgan::emu::warp_exchange(mask, &v, sizeof(T));
  const int lane = ::srgan::emu::lane_id();
  const int seg = lane - lane % width;  // lanes shuffle within segments of `width`
  const int src = lane + int(delta);
  if (src >= seg + width || !(mask >> src & 1u)) return v;
  T out;
  std::memcpy(&out, slots + size_t(src) * ::srgan::emu::kWarpSlotBytes, sizeof(T));
  return out;
}

// CUDA's rsqrtf is approximate: at most 2 ulp from 1/sqrt(x). The emulator moves the correctly
// rounded result by -2..+2 ulp, chosen by a hash of x (the same x gives the same result), so a
// test whose tolerance leaves no room for that error fails here rather than on the GPU.
inline float rsqrtf(float x) {
  const float r = float(1.0 / std::sqrt(double(x)));  // correctly rounded
  if (!std::isfinite(r) || r == 0.0f) return r;
  uint32_t xb, rb;
  std::memcpy(&xb, &x, 4);
  std::memcpy(&rb, &r, 4);
  xb *= 2654435761u;
  rb = uint32_t(int64_t(rb) + int64_t(xb >> 29) % 5 - 2);  // the same sign, an ulp apart per step
  float out;
  std::memcpy(&out, &rb, 4);
  return out;
}
