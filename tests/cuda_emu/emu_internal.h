// Internal interface between the CUDA emulator's three parts (see cuda_emu.h):
//   emu_scheduler.cpp    fibers, blocks, barriers, warp collectives, cp.async queues
//   emu_tensor_core.cpp  cvt.rna.tf32 and mma.m16n8k8
//   emu_runtime_api.cpp  the device's error state, stream capture, launch, the CUDA runtime API
#pragma once
#include <functional>
#include <string>

#include "tests/cuda_emu/cuda_emu.h"

namespace srgan::emu {

// ---- error state (emu_runtime_api.cpp) ----
void set_launch_error(cudaError_t e, const std::string& why);  // not sticky: a refused launch
void set_fault(const std::string& why);                        // sticky: a faulting kernel
cudaError_t sticky();

// Runs the stream work queued so far (emu_runtime_api.cpp); every synchronising call does.
void drain();

// ---- scheduler (emu_scheduler.cpp) ----
// Runs every block of the grid (each thread calls body); returns "" or the first fault.
std::string run_grid(const std::function<void()>& body, dim3 grid, dim3 block);

}  // namespace srgan::emu
