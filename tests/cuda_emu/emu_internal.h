// Internal interface between the CUDA emulator's three parts (see cuda_emu.h):
//   emu_scheduler.cpp    fibers, blocks, barriers, warp collectives, cp.async queues
//   emu_tensor_core.cpp  cvt.rna.tf32 and mma.m16n8k8
//   emu_runtime_api.cpp  the device's error state, stream capture, launch, the CUDA runtime API
//   emu_device_memory.cpp device allocations, fenced off from host code outside device work
#pragma once
#include <functional>
#include <string>

#include "tests/cuda_emu/cuda_emu.h"

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
// Runs every block of the grid (each thread calls body); returns "" or the first fault.
std::string run_grid(const std::function<void()>& body, dim3 grid, dim3 block);

}  // namespace srgan::emu
