// Device memory and streams for core/: the CPU allocator, the caching CUDA allocator (with the
// private pools that CUDA-graph capture allocates from), copies between host and device, pinned
// host buffers and the stream every CUDA op of a thread is issued on. The only file that talks to
// the CUDA runtime for memory and streams is device.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/tensor.h"
#include "kernels/common.h"

namespace srgan {

bool cuda_available();      // built with CUDA and at least one device present
bool cuda_compiled();       // built with CUDA
void cuda_synchronize();    // no-op without CUDA
int cuda_device_count();    // 0 without CUDA or without a GPU
void set_cuda_device(int index);  // this thread's GPU from now on (cudaSetDevice); throws without CUDA

struct CapturePool;  // below

// CUDA: served from the cache (or from the capture pool of this thread, see CapturePoolGuard)
// when a block fits; `block_bytes` receives the size actually held and `pool` the pool it came
// from (null for the shared cache); both must be handed back to device_free.
void* device_alloc(size_t bytes, Device d, size_t* block_bytes, std::shared_ptr<CapturePool>* pool);
// CUDA: back to the cache, or to its pool.
void device_free(void* p, size_t block_bytes, Device d, const std::shared_ptr<CapturePool>& pool);
// Both are issued on the current stream (below). A copy that touches host memory waits for the
// stream to drain first and returns when the data is in place; device-to-device copies and the
// memset are asynchronous (stream-ordered), so they may be captured into a CUDA graph.
void device_copy(void* dst, Device dd, const void* src, Device sd, size_t bytes);
void device_memset_zero(void* dst, Device d, size_t bytes);

// ---- streams -------------------------------------------------------------------------------------
// Every CUDA op issued by a thread goes to that thread's current stream: nullptr (the legacy
// default stream) unless a StreamGuard says otherwise. Capture into a CUDA graph needs a created
// stream; the trainer and `srgan bench steps` make one.
kern::Stream current_stream();
void stream_synchronize(kern::Stream s);  // no-op without CUDA

class StreamGuard {  // makes `s` the current stream of this thread for the guard's lifetime
 public:
  explicit StreamGuard(kern::Stream s);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;
 private:
  kern::Stream previous_;
};

class CudaStream {  // an owned stream (cudaStreamCreate: it also orders with the legacy stream)
 public:
  CudaStream();  // throws without CUDA
  ~CudaStream();
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  kern::Stream get() const { return s_; }
 private:
  kern::Stream s_ = nullptr;
};

// ---- pinned host memory and asynchronous uploads ------------------------------------------------
// Page-locked host memory (cudaHostAlloc), so an upload can be a true asynchronous DMA; plain
// aligned host memory in a build without CUDA or on a machine without a GPU.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  float* floats() const { return static_cast<float*>(p_); }
  size_t bytes() const { return bytes_; }
  bool pinned() const { return pinned_; }
 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
  bool pinned_ = false;
};

// Copies `dst.nbytes()` bytes from `src` into dst, on the current stream. For a CUDA tensor this
// returns at once (the DMA runs in stream order) when `src` is pinned, and records `done`, which
// must be waited for (upload_wait) before `src` is written again. For a CPU tensor it is a memcpy.
class UploadEvent {
 public:
  UploadEvent() = default;
  ~UploadEvent();
  UploadEvent(const UploadEvent&) = delete;
  UploadEvent& operator=(const UploadEvent&) = delete;
  void record(kern::Stream s);  // creates the event on first use
  void wait();                  // host waits until the recorded work is done; no-op if never recorded
 private:
  void* event_ = nullptr;       // cudaEvent_t
};
void upload_async(const Tensor& dst, const PinnedBuffer& src, UploadEvent& done);

// ---- private pools for CUDA-graph capture ---------------------------------------------------------
// While a CapturePoolGuard is alive, the thread's CUDA allocations come from `pool` instead of
// the shared cache, and blocks of the pool go back to the pool when freed, never to the cache:
// a captured graph replays into the very addresses it was captured with, so nothing else may
// ever be handed those blocks. The pool's memory is returned when the last reference to it goes
// (the graph holding it, and every tensor still living in it).
std::shared_ptr<CapturePool> make_capture_pool();
class CapturePoolGuard {
 public:
  explicit CapturePoolGuard(std::shared_ptr<CapturePool> pool);
  ~CapturePoolGuard();
  CapturePoolGuard(const CapturePoolGuard&) = delete;
  CapturePoolGuard& operator=(const CapturePoolGuard&) = delete;
 private:
  std::shared_ptr<CapturePool> previous_;
};

// Caching CUDA allocator statistics: raw cudaMalloc calls so far, bytes held by the cache.
struct AllocatorStats {
  int64_t cuda_malloc_calls = 0;
  int64_t cached_bytes = 0;
  int64_t live_bytes = 0;
};
AllocatorStats allocator_stats();
void allocator_release_cache();  // cudaFree everything that is cached but unused

}  // namespace srgan
