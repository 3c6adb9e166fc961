// CPU and CUDA memory: aligned host allocation, a caching device allocator (blocks are kept in
// size buckets and reused, so a training loop with static shapes stops calling cudaMalloc after
// its first step), and copies. Built with or without CUDA.
#include "core/device.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
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
namespace {

[[noreturn]] void no_cuda() {
  throw Error("this build of srgan has no CUDA support (nvcc was not found at configure time)");
}

#ifdef SRGAN_WITH_CUDA
// Blocks are rounded up to 512 bytes (small) or 2 MiB (large) so sizes that vary slightly share.
size_t round_block(size_t bytes) {
  const size_t small = 512, large = size_t(2) << 20;
  if (bytes < large) return (bytes + small - 1) / small * small;
  return (bytes + large - 1) / large * large;
}

struct CudaCache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // rounded size -> block
  AllocatorStats stats;
};
CudaCache& cache() {
  static CudaCache* c = new CudaCache();  // never destroyed: blocks may be freed at exit
  return *c;
}
#endif

}  // namespace

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

void* device_alloc(size_t bytes, Device d, size_t* block_bytes) {
  if (d == Device::cpu) {
    size_t n = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    *block_bytes = n;
    void* p = std::aligned_alloc(64, n);
    if (!p) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
    return p;
  }
#ifdef SRGAN_WITH_CUDA
  auto& c = cache();
  size_t r = round_block(bytes);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    // Reuse the smallest cached block that fits, but not one more than twice the size asked.
    auto it = c.free_blocks.lower_bound(r);
    if (it != c.free_blocks.end() && it->first <= 2 * r) {
      void* p = it->second;
      *block_bytes = it->first;
      c.stats.cached_bytes -= int64_t(it->first);
      c.stats.live_bytes += int64_t(it->first);
      c.free_blocks.erase(it);
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
  return p;
#else
  no_cuda();
#endif
}

void device_free(void* p, size_t block_bytes, Device d) {
  if (!p) return;
  if (d == Device::cpu) {
    std::free(p);
    return;
  }
#ifdef SRGAN_WITH_CUDA
  auto& c = cache();
  size_t r = block_bytes;
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_blocks.emplace(r, p);
  c.stats.cached_bytes += int64_t(r);
  c.stats.live_bytes -= int64_t(r);
#else
  (void)block_bytes;
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
  cudaMemcpyKind kind = dd == Device::cpu ? cudaMemcpyDeviceToHost
                        : sd == Device::cpu ? cudaMemcpyHostToDevice
                                            : cudaMemcpyDeviceToDevice;
  SRGAN_CUDA_RT_CHECK(cudaMemcpy(dst, src, bytes, kind));
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
  SRGAN_CUDA_RT_CHECK(cudaMemsetAsync(dst, 0, bytes, nullptr));
#else
  no_cuda();
#endif
}

}  // namespace srgan
