// Memory and streams, the host side and the dispatch on Device: aligned host allocation that
// keeps large blocks for reuse, each thread's current stream and capture pool, and the public
// functions of core/device.h, which hand CUDA work to device_cuda.cpp (device_nocuda.cpp in a
// build without CUDA, where it is refused).
//
// Why reusing a freed block is safe: a block freed on the host may still be read by kernels
// queued earlier. All work of srgan is issued on one stream per thread in program order, so
// whatever is handed the block next runs after those kernels. (Two threads driving CUDA at once
// would break this; srgan never does.)
#include "core/device.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/device_internal.h"

namespace srgan {
namespace {

thread_local kern::Stream tl_stream = nullptr;
thread_local std::shared_ptr<CapturePool> tl_pool;

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
  const size_t r = detail::round_block(bytes);
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

}  // namespace

namespace detail {

size_t round_block(size_t bytes) {
  const size_t small = 512, large = size_t(2) << 20;
  if (bytes < large) return (bytes + small - 1) / small * small;
  return (bytes + large - 1) / large * large;
}

kern::Stream thread_stream() { return tl_stream; }
const std::shared_ptr<CapturePool>& thread_capture_pool() { return tl_pool; }

}  // namespace detail

void* device_alloc(size_t bytes, Device d, size_t* block_bytes, std::shared_ptr<CapturePool>* pool) {
  pool->reset();
  if (d == Device::cuda) return detail::cuda_alloc(bytes, block_bytes, pool);
  void* p = host_alloc(bytes, block_bytes);
  if (!p) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}

void device_free(void* p, size_t block_bytes, Device d, const std::shared_ptr<CapturePool>& pool) {
  if (!p) return;
  if (d == Device::cuda) return detail::cuda_free(p, block_bytes, pool);
  host_free(p, block_bytes);
}

void device_copy(void* dst, Device dd, const void* src, Device sd, size_t bytes) {
  if (bytes == 0) return;
  if (dd == Device::cpu && sd == Device::cpu) {
    std::memcpy(dst, src, bytes);
    return;
  }
  detail::cuda_copy(dst, dd, src, sd, bytes);
}

void device_memset_zero(void* dst, Device d, size_t bytes) {
  if (d == Device::cuda) return detail::cuda_memset_zero(dst, bytes);
  std::memset(dst, 0, bytes);
}

// ---- streams ----------------------------------------------------------------------------------------

kern::Stream current_stream() { return tl_stream; }

StreamGuard::StreamGuard(kern::Stream s) : previous_(tl_stream) { tl_stream = s; }
StreamGuard::~StreamGuard() { tl_stream = previous_; }

// ---- pinned host memory and uploads -------------------------------------------------------------------

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
  p_ = detail::pinned_alloc(bytes);
  pinned_ = p_ != nullptr;
  if (pinned_) return;
  p_ = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);  // ordinary memory
  if (!p_) throw Error("out of host memory allocating a " + std::to_string(bytes) + "-byte batch buffer");
}

PinnedBuffer::~PinnedBuffer() {
  if (!p_) return;
  if (pinned_) detail::pinned_free(p_);
  else std::free(p_);
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

void upload_async(const Tensor& dst, const PinnedBuffer& src, UploadEvent& done) {
  if (src.bytes() < dst.nbytes())
    throw Error("upload_async: " + std::to_string(src.bytes()) + "-byte host buffer for a tensor of " +
                std::to_string(dst.nbytes()) + " bytes");
  if (!dst.is_cuda()) {
    std::memcpy(dst.raw(), src.floats(), dst.nbytes());
    return;
  }
  if (!src.pinned()) {  // pageable memory: an ordinary (synchronising) copy
    device_copy(dst.raw(), Device::cuda, src.floats(), Device::cpu, dst.nbytes());
    return;
  }
  detail::cuda_upload_async(dst.raw(), src.floats(), dst.nbytes(), done);
}

// ---- capture pools --------------------------------------------------------------------------------------

std::shared_ptr<CapturePool> make_capture_pool() { return std::make_shared<CapturePool>(); }

CapturePoolGuard::CapturePoolGuard(std::shared_ptr<CapturePool> pool) : previous_(std::move(tl_pool)) {
  tl_pool = std::move(pool);
}
CapturePoolGuard::~CapturePoolGuard() { tl_pool = std::move(previous_); }

}  // namespace srgan
