// Memory and streams over the CUDA runtime (see core/device.h): the caching device allocator
// (freed blocks are kept in size buckets and reused, so a training loop with static shapes stops
// calling cudaMalloc after its first step), the private pools of CUDA-graph capture, copies and
// memsets on the thread's current stream, stream creation, pinned host memory and upload
// events. Built only with CUDA; device_nocuda.cpp holds the same entry points without it.
#include <cuda_runtime.h>

#include <algorithm>
#include <mutex>
#include <map>
#include <string>
#include <unordered_map>

#include "core/check.h"
#include "core/device.h"
#include "core/device_internal.h"
#include "kernels/cuda_context.h"

#define SRGAN_CUDA_RT_CHECK(expr)                                                                  \
  do {                                                                                             \
    cudaError_t _e = (expr);                                                                       \
    if (_e != cudaSuccess)                                                                         \
      throw ::srgan::Error(std::string("CUDA error ") + cudaGetErrorString(_e) + " in " #expr " at " \
                           __FILE__ ":" + std::to_string(__LINE__));                               \
  } while (0)

namespace srgan {
namespace {

cudaStream_t cur() { return reinterpret_cast<cudaStream_t>(detail::thread_stream()); }

// The shared cache is stream-ordered: a block goes back to the free list of the stream that
// allocated it and is reused only by allocations on that stream, whose work runs after the work
// that used it (stream order). A block used on another stream than the one that allocated it
// needs the user to order the two (the engine uses one stream per thread). When a created
// stream is destroyed its blocks move to the legacy default stream's list, which waits for the
// work of blocking streams (cudaStreamCreate).
struct CudaCache {
  std::mutex mu;
  std::map<kern::Stream, std::multimap<size_t, void*>> free_by_stream;  // rounded size -> block
  std::unordered_map<void*, kern::Stream> stream_of;                    // live blocks: their stream
  AllocatorStats stats;
};
CudaCache& cache() {
  static CudaCache* c = new CudaCache();  // never destroyed: blocks may be freed at exit
  return *c;
}

// The smallest free block of `blocks` that fits `r` bytes, but not one more than twice as large
// (the caller holds the lock).
void* take_fitting(std::multimap<size_t, void*>& blocks, size_t r, size_t* block_bytes) {
  auto it = blocks.lower_bound(r);
  if (it == blocks.end() || it->first > 2 * r) return nullptr;
  void* p = it->second;
  *block_bytes = it->first;
  blocks.erase(it);
  return p;
}

// cudaMalloc is not a stream operation, so it is allowed while this thread captures a graph
// (the block is owned by the capture pool and outlives every replay): relax the capture mode
// for the call, as the CUDA docs describe for allocators.
cudaError_t malloc_relaxed(void** p, size_t bytes) {
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  cudaThreadExchangeStreamCaptureMode(&mode);
  cudaError_t e = cudaMalloc(p, bytes);
  cudaThreadExchangeStreamCaptureMode(&mode);
  return e;
}

}  // namespace

CapturePool::~CapturePool() {
  // Nothing references the pool any more, so every block is free; cudaFree waits for the device.
  for (void* p : all_blocks) cudaFree(p);
}

bool cuda_compiled() { return true; }

bool cuda_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

int cuda_device_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

void set_cuda_device(int index) { SRGAN_CUDA_RT_CHECK(cudaSetDevice(index)); }

void cuda_synchronize() {
  if (cuda_available()) SRGAN_CUDA_RT_CHECK(cudaDeviceSynchronize());
}

namespace detail {

void* cuda_alloc(size_t bytes, size_t* block_bytes, std::shared_ptr<CapturePool>* pool) {
  auto& c = cache();
  const size_t r = round_block(bytes);
  if (const auto& capture = thread_capture_pool()) {  // capturing: only the pool's own blocks
    *pool = capture;
    {
      std::lock_guard<std::mutex> lock(capture->mu);
      if (void* p = take_fitting(capture->free_blocks, r, block_bytes)) return p;
    }
    void* p = nullptr;
    SRGAN_CUDA_RT_CHECK(malloc_relaxed(&p, r));
    std::lock_guard<std::mutex> lock(capture->mu);
    capture->all_blocks.push_back(p);
    *block_bytes = r;
    std::lock_guard<std::mutex> lock_c(c.mu);
    c.stats.cuda_malloc_calls++;
    return p;
  }
  const kern::Stream s = thread_stream();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (void* p = take_fitting(c.free_by_stream[s], r, block_bytes)) {
      c.stats.cached_bytes -= int64_t(*block_bytes);
      c.stats.live_bytes += int64_t(*block_bytes);
      c.stream_of[p] = s;
      return p;
    }
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, r);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear, release the cache and retry once
    allocator_release_cache();
    SRGAN_CUDA_RT_CHECK(cudaMalloc(&p, r));
  }
  std::lock_guard<std::mutex> lock(c.mu);
  *block_bytes = r;
  c.stats.cuda_malloc_calls++;
  c.stats.live_bytes += int64_t(r);
  c.stream_of[p] = s;
  return p;
}

void cuda_free(void* p, size_t block_bytes, const std::shared_ptr<CapturePool>& pool) {
  if (pool) {
    std::lock_guard<std::mutex> lock(pool->mu);
    pool->free_blocks.emplace(block_bytes, p);
    return;
  }
  auto& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  kern::Stream s = nullptr;
  if (auto it = c.stream_of.find(p); it != c.stream_of.end()) s = it->second, c.stream_of.erase(it);
  c.free_by_stream[s].emplace(block_bytes, p);
  c.stats.cached_bytes += int64_t(block_bytes);
  c.stats.live_bytes -= int64_t(block_bytes);
}

void cuda_copy(void* dst, Device dd, const void* src, Device sd, size_t bytes) {
  if (dd == Device::cuda && sd == Device::cuda) {
    SRGAN_CUDA_RT_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cur()));
    return;
  }
  // Host memory involved: the copy is ordered after the stream's earlier work, and the host
  // buffer is read (or written) by the time this returns.
  const cudaMemcpyKind kind = dd == Device::cpu ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice;
  SRGAN_CUDA_RT_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, cur()));
  SRGAN_CUDA_RT_CHECK(cudaStreamSynchronize(cur()));
}

void cuda_memset_zero(void* dst, size_t bytes) { SRGAN_CUDA_RT_CHECK(cudaMemsetAsync(dst, 0, bytes, cur())); }

void cuda_upload_async(void* dst, const void* src, size_t bytes, UploadEvent& done) {
  SRGAN_CUDA_RT_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cur()));
  done.record(thread_stream());
}

void* pinned_alloc(size_t bytes) {
  void* p = nullptr;
  if (cuda_available() && cudaHostAlloc(&p, std::max<size_t>(bytes, 1), cudaHostAllocDefault) == cudaSuccess) return p;
  cudaGetLastError();  // no GPU or no page-locked memory left: the caller falls back to ordinary memory
  return nullptr;
}

void pinned_free(void* p) { cudaFreeHost(p); }

}  // namespace detail

void allocator_release_cache() {
  auto& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [stream, blocks] : c.free_by_stream)
    for (auto& [size, p] : blocks) cudaFree(p);
  c.free_by_stream.clear();
  c.stats.cached_bytes = 0;
}

AllocatorStats allocator_stats() {
  auto& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

// ---- streams and events ---------------------------------------------------------------------------

void stream_synchronize(kern::Stream s) {
  if (cuda_available()) SRGAN_CUDA_RT_CHECK(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(s)));
}

CudaStream::CudaStream() {
  cudaStream_t s = nullptr;
  SRGAN_CUDA_RT_CHECK(cudaStreamCreate(&s));
  s_ = reinterpret_cast<kern::Stream>(s);
}

CudaStream::~CudaStream() {
  if (s_) {  // its blocks, live and free, join the legacy stream's (see CudaCache)
    auto& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& [p, s] : c.stream_of)
      if (s == s_) s = nullptr;
    auto it = c.free_by_stream.find(s_);
    if (it != c.free_by_stream.end()) {
      c.free_by_stream[nullptr].merge(it->second);
      c.free_by_stream.erase(s_);
    }
  }
  try {
    if (s_) kern::cuda::forget_stream(reinterpret_cast<cudaStream_t>(s_));  // the workspace's last user?
  } catch (...) {  // a destructor must not throw; a failing runtime fails the next call anyway
  }
  if (s_) cudaStreamDestroy(reinterpret_cast<cudaStream_t>(s_));  // returns at once; work queued still runs
}

UploadEvent::~UploadEvent() {
  if (event_) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
}

void UploadEvent::record(kern::Stream s) {
  if (!event_) {
    cudaEvent_t e = nullptr;
    SRGAN_CUDA_RT_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    event_ = e;
  }
  SRGAN_CUDA_RT_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event_), reinterpret_cast<cudaStream_t>(s)));
}

void UploadEvent::wait() {
  if (event_) SRGAN_CUDA_RT_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event_)));
}

}  // namespace srgan
