// Device memory for core/: the CPU allocator, the caching CUDA allocator and copies between
// host and device. The only file that talks to the CUDA runtime for memory is device.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor.h"

namespace srgan {

bool cuda_available();      // built with CUDA and at least one device present
bool cuda_compiled();       // built with CUDA
void cuda_synchronize();    // no-op without CUDA

// CUDA: served from the cache when a block fits; `block_bytes` receives the size actually held,
// which must be handed back to device_free.
void* device_alloc(size_t bytes, Device d, size_t* block_bytes);
void device_free(void* p, size_t block_bytes, Device d);  // CUDA: back to the cache
void device_copy(void* dst, Device dd, const void* src, Device sd, size_t bytes);
void device_memset_zero(void* dst, Device d, size_t bytes);

// Caching CUDA allocator statistics: raw cudaMalloc calls so far, bytes held by the cache.
struct AllocatorStats {
  int64_t cuda_malloc_calls = 0;
  int64_t cached_bytes = 0;
  int64_t live_bytes = 0;
};
AllocatorStats allocator_stats();
void allocator_release_cache();  // cudaFree everything that is cached but unused

}  // namespace srgan
