// The CUDA entry points of core/device.h in a build without CUDA (device_cuda.cpp holds the real
// ones): queries answer "no", waits return at once, and anything that needs a GPU throws.
#include "core/check.h"
#include "core/device.h"
#include "core/device_internal.h"

namespace srgan {
namespace {
[[noreturn]] void no_cuda() {
  throw Error("this build of srgan has no CUDA support (nvcc was not found at configure time)");
}
}  // namespace

CapturePool::~CapturePool() = default;

bool cuda_compiled() { return false; }
bool cuda_available() { return false; }
void cuda_synchronize() {}
int cuda_device_count() { return 0; }
void set_cuda_device(int) { no_cuda(); }

namespace detail {
void* cuda_alloc(size_t, size_t*, std::shared_ptr<CapturePool>*) { no_cuda(); }
void cuda_free(void*, size_t, const std::shared_ptr<CapturePool>&) {}  // nothing was ever allocated
void cuda_copy(void*, Device, const void*, Device, size_t) { no_cuda(); }
void cuda_memset_zero(void*, size_t) { no_cuda(); }
void cuda_upload_async(void*, const void*, size_t, UploadEvent&) { no_cuda(); }
void* pinned_alloc(size_t) { return nullptr; }
void pinned_free(void*) {}
}  // namespace detail

void allocator_release_cache() {}
AllocatorStats allocator_stats() { return {}; }

void stream_synchronize(kern::Stream) {}
CudaStream::CudaStream() { no_cuda(); }
CudaStream::~CudaStream() = default;

UploadEvent::~UploadEvent() = default;
void UploadEvent::record(kern::Stream) {}
void UploadEvent::wait() {}

}  // namespace srgan
