// CPU and CUDA memory and streams: aligned host allocation that keeps large blocks for reuse, a
// caching device allocator (blocks are kept in size buckets and reused, so a training loop with
// static shapes stops calling cudaMalloc after its first step), the private pools of CUDA-graph
// capture, copies on the thread's current stream, pinned host buffers and upload events. Built
// with or without CUDA.
//
// Why reuse is safe: a block freed on the host may still be read by kernels queued earlier. All
// work of srgan is issued on one stream per thread in program order, so whatever is handed the
// block next runs after those kernels. (Two threads driving CUDA at once would break this; srgan
// never does.)
#include "core/device.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "core/check.h"

#ifdef SRGAN_WITH_CUDA
#include <cuda_runtime.h>
#define SRGAN_CUDA_RT_CHECK(expr)                                                                  \
  do {                                                                                             \
    cudaError_t _e = (expr);                                                                       \
    if (_e != cudaSuccess)                                                                         \
      throw ::srgan::Error(std::string("CUDA error ") + cudaGetErrorString(_e) + " in " #expr " at " \
                           __FILE__ ":" + std::to_string(__LINE__));                               \
  } while (0)
#endif

namespace srgan {

// Size-bucketed free blocks: the shared cache and each capture pool are one of these.
struct BlockCache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // rounded size -> block
};

struct CapturePool : BlockCache {
  std::vector<void*> all_blocks;  // every block this pool ever cudaMalloc'ed
  ~CapturePool();
};

namespace {

[[noreturn]] void no_cuda() {
  throw Error("this build of srgan has no CUDA support (nvcc was not found at configure time)");
}

thread_local kern::Stream tl_stream = nullptr;
thread_local std::shared_ptr<CapturePool> tl_pool;

// Blocks are rounded up to 512 bytes (small) or 2 MiB (large) so sizes that vary slightly share.
size_t round_block(size_t bytes) {
  const size_t small = 512, large = size_t(2) << 20;
  if (bytes < large) return (bytes + small - 1) / small * small;
  return (bytes + large - 1) / large * large;
}

// Host blocks of kHostCacheMin bytes or more are kept when freed and handed to the next request
// they fit (the smallest such). glibc returns such large blocks to the kernel at once (mmap), so
// each new tensor of an upscaled tile or a training step used to fault its pages in again: 62
// million page faults and 15% of the CPU time for a 4000x3000 photo. A miss first returns at
// least as many cached bytes to the system as it asks for, so live plus cached blocks never
// exceed the most that live blocks alone have held.
constexpr size_t kHostCacheMin = size_t(1) << 20;
BlockCache& host_cache() {
  static BlockCache* c = new BlockCache();  // never destroyed: tensors may be freed at exit
  return *c;
}

void* host_alloc(size_t bytes, size_t* block_bytes) {
  if (bytes < kHostCacheMin) {
    *block_bytes = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    return std::aligned_alloc(64, *block_bytes);
  }
  const size_t r = round_block(bytes);
  auto& c = host_cache();
  std::vector<void*> release;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    // The smallest cached block that fits, however much larger: its pages are resident already.
    // Bounding the size (to 2x or 8x) made the small tail output of each upscaled tile miss, and
    // the miss then evicted the big blocks the next tile needed: 4.1 million page faults instead
    // of 0.28 million for a 1200x748 photo. The cost: a small tensor that outlives a big one can
    // hold the big one's block until it is freed (srgan's long-lived tensors, the parameters and
    // optimizer state, are made before any activation).
    auto it = c.free_blocks.lower_bound(r);
    if (it != c.free_blocks.end()) {
      void* p = it->second;
      *block_bytes = it->first;
      c.free_blocks.erase(it);
      return p;
    }
    size_t freed = 0;  // a miss: give back the smallest cached blocks, at least r bytes of them
    while (freed < r && !c.free_blocks.empty()) {
      auto first = c.free_blocks.begin();
      freed += first->first;
      release.push_back(first->second);
      c.free_blocks.erase(first);
    }
  }
  for (void* p : release) std::free(p);
  *block_bytes = r;
  return std::aligned_alloc(64, r);
}

void host_free(void* p, size_t block_bytes) {
  if (block_bytes < kHostCacheMin) return std::free(p);
  auto& c = host_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_blocks.emplace(block_bytes, p);
}

#ifdef SRGAN_WITH_CUDA
cudaStream_t cur() { return reinterpret_cast<cudaStream_t>(tl_stream); }

struct CudaCache : BlockCache {
  AllocatorStats stats;
};
CudaCache& cache() {
  static CudaCache* c = new CudaCache();  // never destroyed: blocks may be freed at exit
  return *c;
}

// The smallest free block of `c` that fits `r` bytes, but not one more than twice as large.
void* take_cached(BlockCache& c, size_t r, size_t* block_bytes) {
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.free_blocks.lower_bound(r);
  if (it == c.free_blocks.end() || it->first > 2 * r) return nullptr;
  void* p = it->second;
  *block_bytes = it->first;
  c.free_blocks.erase(it);
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
#endif

}  // namespace

CapturePool::~CapturePool() {
#ifdef SRGAN_WITH_CUDA
  // Nothing references the pool any more, so every block is free; cudaFree waits for the device.
  for (void* p : all_blocks) cudaFree(p);
#endif
}

bool cuda_compiled() {
#ifdef SRGAN_WITH_CUDA
  return true;
#else
  return false;
#endif
}

bool cuda_available() {
#ifdef SRGAN_WITH_CUDA
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
#else
  return false;
#endif
}

void cuda_synchronize() {
#ifdef SRGAN_WITH_CUDA
  if (cuda_available()) SRGAN_CUDA_RT_CHECK(cudaDeviceSynchronize());
#endif
}

void* device_alloc(size_t bytes, Device d, size_t* block_bytes, std::shared_ptr<CapturePool>* pool) {
  pool->reset();
  if (d == Device::cpu) {
    void* p = host_alloc(bytes, block_bytes);
    if (!p) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
    return p;
  }
#ifdef SRGAN_WITH_CUDA
  auto& c = cache();
  const size_t r = round_block(bytes);
  if (tl_pool) {  // capturing: only the pool's own blocks
    *pool = tl_pool;
    if (void* p = take_cached(*tl_pool, r, block_bytes)) return p;
    void* p = nullptr;
    SRGAN_CUDA_RT_CHECK(malloc_relaxed(&p, r));
    std::lock_guard<std::mutex> lock(tl_pool->mu);
    tl_pool->all_blocks.push_back(p);
    *block_bytes = r;
    std::lock_guard<std::mutex> lock_c(c.mu);
    c.stats.cuda_malloc_calls++;
    return p;
  }
  if (void* p = take_cached(c, r, block_bytes)) {
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.cached_bytes -= int64_t(*block_bytes);
    c.stats.live_bytes += int64_t(*block_bytes);
    return p;
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
  return p;
#else
  no_cuda();
#endif
}

void device_free(void* p, size_t block_bytes, Device d, const std::shared_ptr<CapturePool>& pool) {
  if (!p) return;
  if (d == Device::cpu) return host_free(p, block_bytes);
#ifdef SRGAN_WITH_CUDA
  if (pool) {
    std::lock_guard<std::mutex> lock(pool->mu);
    pool->free_blocks.emplace(block_bytes, p);
    return;
  }
  auto& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_blocks.emplace(block_bytes, p);
  c.stats.cached_bytes += int64_t(block_bytes);
  c.stats.live_bytes -= int64_t(block_bytes);
#else
  (void)block_bytes;
  (void)pool;
#endif
}

void allocator_release_cache() {
#ifdef SRGAN_WITH_CUDA
  auto& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, p] : c.free_blocks) cudaFree(p);
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
#endif
}

AllocatorStats allocator_stats() {
#ifdef SRGAN_WITH_CUDA
  auto& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
#else
  return {};
#endif
}

void device_copy(void* dst, Device dd, const void* src, Device sd, size_t bytes) {
  if (bytes == 0) return;
  if (dd == Device::cpu && sd == Device::cpu) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef SRGAN_WITH_CUDA
  if (dd == Device::cuda && sd == Device::cuda) {
    SRGAN_CUDA_RT_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cur()));
    return;
  }
  // Host memory involved: the copy is ordered after the stream's earlier work, and the host
  // buffer is read (or written) by the time this returns.
  const cudaMemcpyKind kind = dd == Device::cpu ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice;
  SRGAN_CUDA_RT_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, cur()));
  SRGAN_CUDA_RT_CHECK(cudaStreamSynchronize(cur()));
#else
  no_cuda();
#endif
}

void device_memset_zero(void* dst, Device d, size_t bytes) {
  if (d == Device::cpu) {
    std::memset(dst, 0, bytes);
    return;
  }
#ifdef SRGAN_WITH_CUDA
  SRGAN_CUDA_RT_CHECK(cudaMemsetAsync(dst, 0, bytes, cur()));
#else
  no_cuda();
#endif
}

// ---- streams ----------------------------------------------------------------------------------------

kern::Stream current_stream() { return tl_stream; }

void stream_synchronize(kern::Stream s) {
#ifdef SRGAN_WITH_CUDA
  if (cuda_available()) SRGAN_CUDA_RT_CHECK(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(s)));
#else
  (void)s;
#endif
}

StreamGuard::StreamGuard(kern::Stream s) : previous_(tl_stream) { tl_stream = s; }
StreamGuard::~StreamGuard() { tl_stream = previous_; }

CudaStream::CudaStream() {
#ifdef SRGAN_WITH_CUDA
  cudaStream_t s = nullptr;
  SRGAN_CUDA_RT_CHECK(cudaStreamCreate(&s));
  s_ = reinterpret_cast<kern::Stream>(s);
#else
  no_cuda();
#endif
}

CudaStream::~CudaStream() {
#ifdef SRGAN_WITH_CUDA
  if (s_) cudaStreamDestroy(reinterpret_cast<cudaStream_t>(s_));  // returns at once; work queued still runs
#endif
}

// ---- pinned host memory and uploads -------------------------------------------------------------------

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
#ifdef SRGAN_WITH_CUDA
  if (cuda_available() && cudaHostAlloc(&p_, std::max<size_t>(bytes, 1), cudaHostAllocDefault) == cudaSuccess) {
    pinned_ = true;
    return;
  }
  cudaGetLastError();  // no GPU or no page-locked memory left: fall back to ordinary memory
#endif
  p_ = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
  if (!p_) throw Error("out of host memory allocating a " + std::to_string(bytes) + "-byte batch buffer");
}

PinnedBuffer::~PinnedBuffer() {
  if (!p_) return;
#ifdef SRGAN_WITH_CUDA
  if (pinned_) {
    cudaFreeHost(p_);
    return;
  }
#endif
  std::free(p_);
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)), pinned_(std::exchange(o.pinned_, false)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    PinnedBuffer dead(std::move(*this));
    p_ = std::exchange(o.p_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    pinned_ = std::exchange(o.pinned_, false);
  }
  return *this;
}

UploadEvent::~UploadEvent() {
#ifdef SRGAN_WITH_CUDA
  if (event_) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
#endif
}

void UploadEvent::record(kern::Stream s) {
#ifdef SRGAN_WITH_CUDA
  if (!event_) {
    cudaEvent_t e = nullptr;
    SRGAN_CUDA_RT_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    event_ = e;
  }
  SRGAN_CUDA_RT_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event_), reinterpret_cast<cudaStream_t>(s)));
#else
  (void)s;
#endif
}

void UploadEvent::wait() {
#ifdef SRGAN_WITH_CUDA
  if (event_) SRGAN_CUDA_RT_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event_)));
#endif
}

void upload_async(const Tensor& dst, const PinnedBuffer& src, UploadEvent& done) {
  if (src.bytes() < dst.nbytes())
    throw Error("upload_async: " + std::to_string(src.bytes()) + "-byte host buffer for a tensor of " +
                std::to_string(dst.nbytes()) + " bytes");
  if (!dst.is_cuda()) {
    std::memcpy(dst.raw(), src.floats(), dst.nbytes());
    return;
  }
#ifdef SRGAN_WITH_CUDA
  if (!src.pinned()) {  // pageable memory: an ordinary (synchronising) copy
    device_copy(dst.raw(), Device::cuda, src.floats(), Device::cpu, dst.nbytes());
    return;
  }
  SRGAN_CUDA_RT_CHECK(cudaMemcpyAsync(dst.raw(), src.floats(), dst.nbytes(), cudaMemcpyHostToDevice, cur()));
  done.record(tl_stream);
#else
  (void)done;
  no_cuda();
#endif
}

// ---- capture pools --------------------------------------------------------------------------------------

std::shared_ptr<CapturePool> make_capture_pool() { return std::make_shared<CapturePool>(); }

CapturePoolGuard::CapturePoolGuard(std::shared_ptr<CapturePool> pool) : previous_(std::move(tl_pool)) {
  tl_pool = std::move(pool);
}
CapturePoolGuard::~CapturePoolGuard() { tl_pool = std::move(previous_); }

}  // namespace srgan
