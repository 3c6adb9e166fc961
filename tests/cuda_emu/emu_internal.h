// Internal interface between the CUDA emulator's three parts (see cuda_emu.h):
//   emu_scheduler.cpp    fibers, blocks, barriers, warp collectives, cp.async queues
//   emu_tensor_core.cpp  cvt.rna.tf32, cvt.rn.bf16x2, mma.m16n8k8 (TF32) and mma.m16n8k16 (BF16)
//   emu_runtime_api.cpp  the device's error state, stream capture, launch, the CUDA runtime API
//   emu_device_memory.cpp device allocations, fenced off from host code outside device work
//   emu_hopper.cpp       sm_90a: mbarrier, the bulk tensor copy (TMA) and wgmma
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/cuda_emu/cuda_emu.h"
#include "tests/cuda_emu/emu_counters.h"

namespace srgan::emu {

// ---- error state (emu_runtime_api.cpp) ----
void set_launch_error(cudaError_t e, const std::string& why);  // not sticky: a refused launch
void set_fault(const std::string& why);                        // sticky: a faulting kernel
cudaError_t sticky();
// The sticky fault's message ("" if none), cleared with it and with the last error: for the
// emulator's self-tests only, so each provoked fault can be checked for what it reports. A GPU
// has no such thing (its process must end).
std::string take_fault_for_selftest();

// Runs the stream work queued so far (emu_runtime_api.cpp); every synchronising call does.
void drain();

// ---- device memory (emu_device_memory.cpp) ----
void* device_alloc(size_t bytes);  // null when out of memory
bool device_free(void* p);         // false: p is not a device allocation
bool is_device_memory(const void* p);
bool device_fence_on();  // false in an AddressSanitizer build or with SRGAN_EMU_FENCE=0
// While one is alive (on any host thread), device memory is accessible: every kernel, copy and
// set runs inside one. Outside, a host access to device memory faults and is reported.
class DeviceAccess {
 public:
  DeviceAccess();
  ~DeviceAccess();
  DeviceAccess(const DeviceAccess&) = delete;
  DeviceAccess& operator=(const DeviceAccess&) = delete;
};

// ---- scheduler (emu_scheduler.cpp) ----
// Runs every block of the grid (each thread calls body) with `smem` bytes of dynamic shared
// memory; returns "" or the first fault. max_blocks > 0: only that many blocks, evenly spaced
// and including the last (counting runs, emu_counters.h). `kernel` names the kernel: in the
// default block order (mixed) its launches alternate between forward and reverse.
std::string run_grid(const std::function<void()>& body, dim3 grid, dim3 block, size_t smem = 0,
                     int64_t max_blocks = 0, const std::string& kernel = "");
// cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes), by the kernel's
// mangled name; a launch asking for more than 48 KiB checks it when its first thread starts.
void set_max_dynamic_smem(const std::string& mangled, int bytes);

// ---- what emu_hopper.cpp needs of the scheduler ----
[[noreturn]] void kernel_fault(const std::string& why);  // the running thread faults
uint64_t block_serial();         // a number that changes whenever this host thread starts a block
size_t dynamic_shared_bytes();   // the running launch's dynamic shared memory
// What cudaGetDriverEntryPointByVersion returns for a driver symbol (emu_hopper.cpp), or null.
void* driver_entry_point(const char* symbol);

// ---- counters (emu_counters.cpp; see emu_counters.h) ----
// A launch that runs while counting: returns the block limit (0: all blocks).
int64_t counters_launch_begin(const std::string& kernel, dim3 grid, dim3 block, size_t smem);
void counters_launch_end();
void counters_block_begin(int threads);  // the calling host thread starts a block
void counters_block_end();
void counters_flush();                   // every thread of the block is suspended: group the traces
void counters_shared_range(const void* p, size_t bytes);  // shared memory of the running block
void counters_kernel_name(const char* tag);
enum class WarpInstr { hmma, hmma_bf16, ldmatrix, barrier };
void counters_note(WarpInstr what);      // called by every lane; lane 0 counts it
// One wgmma instruction of the calling warp's warpgroup (called by every lane; lane 0 of each warp
// counts it as one warp instruction doing macs / 4 of its multiply-adds, as HGMMA issues per warp).
void counters_note_wgmma(double macs);
void counters_record(MemKind kind, const void* pc, const void* addr, int bytes);
// The kernel's mangled name from its entry tag: typeid of a local struct EmuKernelTag names the
// enclosing function ("Z<encoding>E12EmuKernelTag"); "" if it does not look like one.
std::string mangled_from_tag(const char* tag);
// Linear index of the CUDA thread running on this host thread, -1 outside a kernel.
int current_thread_linear();
// Device allocations [begin, end), sorted (emu_device_memory.cpp).
std::vector<std::pair<uint64_t, uint64_t>> device_ranges();

}  // namespace srgan::emu
