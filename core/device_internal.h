// What core/device.cpp (the host side, and the dispatch on Device) and its two CUDA halves share:
// device_cuda.cpp (the CUDA runtime: caching allocator, copies, streams, pinned memory, events)
// and device_nocuda.cpp (the same entry points in a build without CUDA, which refuse). Not for
// use outside core/device*.cpp.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/device.h"

namespace srgan {

// Size-bucketed free blocks: the host cache, the CUDA cache and each capture pool are one of these.
struct BlockCache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // rounded size -> block
};

struct CapturePool : BlockCache {
  std::vector<void*> all_blocks;  // every block this pool ever cudaMalloc'ed
  ~CapturePool();                 // cudaFree of every block (device_cuda.cpp)
};

namespace detail {

// Blocks are rounded up to 512 bytes (small) or 2 MiB (large) so sizes that vary slightly share.
size_t round_block(size_t bytes);

// This thread's current stream and capture pool (device.cpp owns both).
kern::Stream thread_stream();
const std::shared_ptr<CapturePool>& thread_capture_pool();

// The CUDA halves of device_alloc, device_free, device_copy (at least one side on the device),
// device_memset_zero and upload_async.
void* cuda_alloc(size_t bytes, size_t* block_bytes, std::shared_ptr<CapturePool>* pool);
void cuda_free(void* p, size_t block_bytes, const std::shared_ptr<CapturePool>& pool);
void cuda_copy(void* dst, Device dd, const void* src, Device sd, size_t bytes);
void cuda_memset_zero(void* dst, size_t bytes);
void cuda_upload_async(void* dst, const void* src, size_t bytes, UploadEvent& done);

// Page-locked host memory, or null when there is none (no CUDA, no GPU, none left).
void* pinned_alloc(size_t bytes);
void pinned_free(void* p);

}  // namespace detail
}  // namespace srgan
