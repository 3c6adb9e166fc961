// The CUDA emulator's device (see cuda_emu.h): its error state, stream capture into CUDA graphs,
// kernel launch, and the slice of the CUDA runtime API that our kernels and tests call (memory,
// copies, streams, events, graphs, errors), backed by host memory. cuDNN and cuBLAS handles
// cannot be created here.
#include "tests/cuda_emu/cuda_emu.h"  // first: it defines __shared__ before the CUDA headers do

#include <cublas_v2.h>
#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "tests/cuda_emu/emu_internal.h"

#include <dlfcn.h>

namespace srgan::emu {
namespace {

// ---- error state (shared by all host threads, like a device's) --------------------------------

std::mutex g_err_mu;
cudaError_t g_last = cudaSuccess;    // cleared by cudaGetLastError
cudaError_t g_sticky = cudaSuccess;  // a kernel fault: every later call fails, as on a GPU
std::string g_fault;                 // what the fault was

}  // namespace

void set_launch_error(cudaError_t e, const std::string& why) {
  std::lock_guard<std::mutex> lk(g_err_mu);
  g_last = e;
  std::fprintf(stderr, "[cuda emulator] launch refused: %s\n", why.c_str());
}

void set_fault(const std::string& why) {
  std::lock_guard<std::mutex> lk(g_err_mu);
  if (g_sticky == cudaSuccess) {
    g_sticky = cudaErrorLaunchFailure;
    g_fault = "emulated kernel fault: " + why;
    std::fprintf(stderr, "[cuda emulator] %s\n", g_fault.c_str());
  }
  g_last = cudaErrorLaunchFailure;
}

cudaError_t sticky() {
  std::lock_guard<std::mutex> lk(g_err_mu);
  return g_sticky;
}

std::string take_fault_for_selftest() {
  std::lock_guard<std::mutex> lk(g_err_mu);
  std::string why;
  why.swap(g_fault);
  g_sticky = g_last = cudaSuccess;
  return why;
}

// ---- stream capture (CUDA graphs) -----------------------------------------------------------
// While a stream is captured, work issued to it (launches, async copies and sets) is recorded
// instead of run; cudaGraphLaunch replays the recording in order. Calls that are illegal during
// a capture (synchronising, or cudaMalloc unless the thread relaxed its capture mode) fail and
// invalidate the capture, as CUDA does.

namespace {

struct Capture {
  std::vector<std::function<void()>> nodes;
  std::thread::id owner;
  bool invalidated = false;
};

std::mutex g_cap_mu;
std::map<cudaStream_t, Capture> g_captures;
thread_local cudaStreamCaptureMode tl_capture_mode = cudaStreamCaptureModeGlobal;

// Records op into the capture of stream s, if s is being captured.
bool record_if_capturing(cudaStream_t s, std::function<void()> op) {
  std::lock_guard<std::mutex> lk(g_cap_mu);
  auto it = g_captures.find(s);
  if (it == g_captures.end()) return false;
  it->second.nodes.push_back(std::move(op));
  return true;
}

bool is_capturing(cudaStream_t s) {
  std::lock_guard<std::mutex> lk(g_cap_mu);
  return g_captures.count(s) != 0;
}

// For a call that is illegal while this thread captures (unless `relaxable` and the thread's
// capture mode is relaxed): invalidates the capture and returns the error CUDA returns.
cudaError_t check_capture_unsafe(const char* what, bool relaxable) {
  if (relaxable && tl_capture_mode == cudaStreamCaptureModeRelaxed) return cudaSuccess;
  std::lock_guard<std::mutex> lk(g_cap_mu);
  for (auto& [stream, cap] : g_captures)
    if (cap.owner == std::this_thread::get_id()) {
      cap.invalidated = true;
      std::fprintf(stderr, "[cuda emulator] %s during stream capture: capture invalidated\n", what);
      return cudaErrorStreamCaptureUnsupported;
    }
  return cudaSuccess;
}

// ---- deferred execution, one queue per stream -----------------------------------------------
// As on a GPU, work issued to a stream (launches, async copies and sets, event records) does not
// run when it is issued: it waits until the host synchronises (cudaDeviceSynchronize,
// cudaStreamSynchronize, cudaEventSynchronize, a synchronous copy, a copy to or from pageable
// memory, cudaFree). So host code that reads a result before synchronising reads stale memory,
// and a pinned buffer refilled before its upload ran uploads the new contents, as they can on a
// GPU. SRGAN_EMU_SYNC=1 runs everything at issue instead.
//
// Each stream is its own queue, and an operation waits only for what CUDA orders it after: the
// previous operation of its stream; for the legacy default stream (nullptr), the last operation
// of every blocking stream (cudaStreamCreate) issued before it, and for a blocking stream, the
// last legacy operation issued before it (non-blocking streams, cudaStreamNonBlocking, order with
// neither); and an event a cudaStreamWaitEvent named. Among the operations ready to run, the
// next is the last issued of a stream other than the one that ran last (else the last issued):
// work on two streams with no dependency between them runs in the opposite of issue order, so a
// missing cudaStreamWaitEvent shows as stale data, and interleaved, so two streams sharing a
// scratch buffer without ordering overwrite each other's data.

struct Op {
  uint64_t id;
  std::vector<uint64_t> deps;  // must have run first
  std::function<void()> fn;
};

std::mutex g_queue_mu, g_drain_mu;
uint64_t g_next_id = 1;
std::map<cudaStream_t, std::deque<Op>> g_queues;     // pending, per stream, in issue order
std::map<cudaStream_t, uint64_t> g_last_issued;      // per stream (kept after it ran)
std::map<cudaStream_t, bool> g_blocking;             // created streams: orders with the legacy stream?
std::unordered_set<uint64_t> g_pending;              // ids issued and not yet run
cudaStream_t g_last_run = nullptr;                   // the stream of the operation run last

bool run_at_issue() {
  static const bool sync = [] {
    const char* e = std::getenv("SRGAN_EMU_SYNC");
    return e && *e && *e != '0';
  }();
  return sync;
}

// Queues op on s after the work CUDA orders it after (and `extra`); returns its id (0: it ran
// at once, or went into a capture).
uint64_t enqueue(cudaStream_t s, std::function<void()> op, uint64_t extra = 0) {
  if (record_if_capturing(s, op)) return 0;
  if (run_at_issue()) {
    DeviceAccess device_work;
    op();
    return 0;
  }
  std::lock_guard<std::mutex> lk(g_queue_mu);
  Op o{g_next_id++, {}, std::move(op)};
  auto last = [](cudaStream_t t) {
    auto it = g_last_issued.find(t);
    return it == g_last_issued.end() ? uint64_t(0) : it->second;
  };
  o.deps.push_back(last(s));
  if (s == nullptr) {
    for (const auto& [t, blocking] : g_blocking)
      if (blocking) o.deps.push_back(last(t));
  } else if (auto b = g_blocking.find(s); b == g_blocking.end() || b->second) {
    o.deps.push_back(last(nullptr));
  }
  o.deps.push_back(extra);
  g_last_issued[s] = o.id;
  g_pending.insert(o.id);
  const uint64_t id = o.id;
  g_queues[s].push_back(std::move(o));
  return id;
}

void issue(cudaStream_t s, std::function<void()> op) { enqueue(s, std::move(op)); }

}  // namespace

// Runs every queued operation (one host thread at a time): each time the ready queue head
// issued last (see above).
void drain() {
  std::lock_guard<std::mutex> one_drainer(g_drain_mu);
  {
    std::lock_guard<std::mutex> lk(g_queue_mu);
    if (g_pending.empty()) return;
  }
  DeviceAccess device_work;  // device memory is open while the queued work runs
  for (;;) {
    std::function<void()> fn;
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lk(g_queue_mu);
      std::deque<Op>* pick = nullptr;
      bool pick_other = false;  // pick is from a stream other than the last one run
      for (auto& [stream, q] : g_queues) {
        if (q.empty()) continue;
        const Op& head = q.front();
        bool ready = true;
        for (uint64_t d : head.deps) ready = ready && (d == 0 || !g_pending.count(d));
        if (!ready) continue;
        const bool other = stream != g_last_run;
        if (!pick || (other && !pick_other) || (other == pick_other && head.id > pick->front().id))
          pick = &q, pick_other = other;
      }
      if (!pick) {
        for (const auto& [stream, q] : g_queues)
          if (!q.empty()) std::fprintf(stderr, "[cuda emulator] queued work that can never run (a wait on an event recorded later?)\n");
        return;
      }
      fn = std::move(pick->front().fn);
      id = pick->front().id;
      pick->pop_front();
      for (const auto& [stream, q] : g_queues)
        if (&q == pick) g_last_run = stream;
    }
    fn();
    std::lock_guard<std::mutex> lk(g_queue_mu);
    g_pending.erase(id);
  }
}

namespace {

// The stream bookkeeping of the runtime calls below.
void stream_created(cudaStream_t s, bool blocking) {
  std::lock_guard<std::mutex> lk(g_queue_mu);
  g_blocking[s] = blocking;
}
void stream_destroyed(cudaStream_t s) {
  drain();  // CUDA lets queued work finish; running it now is one legal order
  std::lock_guard<std::mutex> lk(g_queue_mu);
  g_blocking.erase(s);
  g_queues.erase(s);
  g_last_issued.erase(s);
}
uint64_t enqueue_after(cudaStream_t s, std::function<void()> op, uint64_t extra) {
  return enqueue(s, std::move(op), extra);
}

}  // namespace

// ---- launch ----------------------------------------------------------------------------------

namespace {

void run_kernel(const std::string& kernel, dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
  if (sticky() != cudaSuccess) return;
  const int64_t max_blocks = counters_launch_begin(kernel, grid, block, smem);
  const std::string fault = run_grid(body, grid, block, smem, max_blocks, kernel);
  counters_launch_end();
  if (!fault.empty()) set_fault(kernel + ": " + fault);
}

}  // namespace

void launch(const char* kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t s, std::function<void()> body) {
  if (sticky() != cudaSuccess) {
    std::lock_guard<std::mutex> lk(g_err_mu);
    g_last = g_sticky;
    return;
  }
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535) {
    set_launch_error(cudaErrorInvalidConfiguration,
                     std::string(kernel) + ": grid (" + std::to_string(grid.x) + "," + std::to_string(grid.y) + "," +
                         std::to_string(grid.z) + ") block (" + std::to_string(block.x) + "," +
                         std::to_string(block.y) + "," + std::to_string(block.z) + ")");
    return;
  }
  // sm_90: at most 227 KiB of dynamic shared memory per block; above 48 KiB only after
  // cudaFuncSetAttribute, which the kernel's first thread checks (kernel_entry).
  if (smem > 227 * 1024) {
    set_launch_error(cudaErrorInvalidValue, std::string(kernel) + ": dynamic shared memory over 227 KiB");
    return;
  }
  std::string name = kernel;
  issue(s, [name, grid, block, smem, body] { run_kernel(name, grid, block, smem, body); });
}

}  // namespace srgan::emu

// ---- the CUDA runtime API, backed by host memory ---------------------------------------------

// The opaque handle types of the runtime, defined here.
struct CUstream_st {
  int unused = 0;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point t;
  uint64_t op = 0;  // the emulator's queued record of it (0: none pending)
};
struct CUgraph_st {
  std::vector<std::function<void()>> nodes;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> nodes;
};

namespace {

using srgan::emu::check_capture_unsafe;
using srgan::emu::is_capturing;

std::mutex g_alloc_mu;
std::map<const char*, size_t> g_pinned_allocs;  // base -> bytes (device memory: emu_device_memory.cpp)

bool inside(const std::map<const char*, size_t>& allocs, const void* p) {
  const char* c = static_cast<const char*>(p);
  auto it = allocs.upper_bound(c);
  if (it == allocs.begin()) return false;
  --it;
  return c < it->first + std::max<size_t>(it->second, 1);
}

// Pageable host memory: neither device memory nor pinned (cudaHostAlloc) memory. Async copies
// to or from it complete before the call returns, as in CUDA.
bool pageable(const void* p) {
  if (srgan::emu::is_device_memory(p)) return false;
  std::lock_guard<std::mutex> lk(g_alloc_mu);
  return !inside(g_pinned_allocs, p);
}

using srgan::emu::drain;
using srgan::emu::issue;

cudaError_t fail_if_sticky() { return srgan::emu::sticky(); }

// A synchronous copy or set: waits for the queued work, then runs op (a copy or set that may
// touch device memory), with device memory opened once for both.
cudaError_t sync_then(const std::function<void()>& op) {
  srgan::emu::DeviceAccess device_work;
  drain();
  if (cudaError_t e = fail_if_sticky()) return e;
  op();
  return cudaSuccess;
}

// Pinned host memory: 256-byte aligned, exactly `bytes` long (AddressSanitizer sees overruns).
void* alloc256(size_t bytes) {
  void* p = nullptr;
  return posix_memalign(&p, 256, std::max<size_t>(bytes, 1)) == 0 ? p : nullptr;
}

}  // namespace

extern "C" {

// Only the dynamic shared-memory limit is kept (by the kernel's exported symbol name: a kernel
// that needs more than 48 KiB must not sit in an anonymous namespace, or the launch fails here).
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (value < 0 || value > 227 * 1024) return cudaErrorInvalidValue;
  Dl_info info{};
  if (dladdr(func, &info) && info.dli_sname && info.dli_saddr == func)
    srgan::emu::set_max_dynamic_smem(info.dli_sname, value);
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* dev) {
  *dev = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int dev) {
  if (dev != 0) return cudaErrorInvalidDevice;
  switch (attr) {
    case cudaDevAttrMultiProcessorCount: *value = 132; break;  // as an H100 SXM
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = 227 * 1024; break;  // sm_90's limit, as enforced above
    case cudaDevAttrComputeCapabilityMajor: *value = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    default: *value = 0; break;
  }
  return cudaSuccess;
}
cudaError_t cudaGetDriverEntryPointByVersion(const char* symbol, void** fn, unsigned int, unsigned long long,
                                             cudaDriverEntryPointQueryResult* status) {
  if (!symbol || !fn) return cudaErrorInvalidValue;
  *fn = srgan::emu::driver_entry_point(symbol);  // emu_hopper.cpp: cuTensorMapEncodeTiled only
  if (status) *status = *fn ? cudaDriverEntryPointSuccess : cudaDriverEntryPointSymbolNotFound;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int dev) {
  if (dev != 0) return cudaErrorInvalidDevice;
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof(prop->name), "srgan CUDA emulator (CPU)");
  prop->multiProcessorCount = 132;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->major = 9;
  prop->minor = 0;
  prop->totalGlobalMem = size_t(80) << 30;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  if (cudaError_t e = fail_if_sticky()) return e;
  if (cudaError_t e = check_capture_unsafe("cudaMalloc", true)) return e;
  *p = srgan::emu::device_alloc(bytes);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  if (cudaError_t e = check_capture_unsafe("cudaFree", true)) return e;
  drain();  // cudaFree waits for the device: queued work may still use the block
  return srgan::emu::device_free(p) ? cudaSuccess : cudaErrorInvalidValue;
}
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned int) {
  *p = alloc256(bytes);
  if (!*p) return cudaErrorMemoryAllocation;
  std::lock_guard<std::mutex> lk(g_alloc_mu);
  g_pinned_allocs[static_cast<const char*>(*p)] = bytes;
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t bytes) { return cudaHostAlloc(p, bytes, 0); }
cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  drain();  // like cudaFree: queued copies may still use the buffer
  {
    std::lock_guard<std::mutex> lk(g_alloc_mu);
    if (!g_pinned_allocs.erase(static_cast<const char*>(p))) return cudaErrorInvalidValue;
  }
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind) {
  if (cudaError_t e = fail_if_sticky()) return e;
  if (cudaError_t e = check_capture_unsafe("cudaMemcpy (synchronous)", false)) return e;
  return sync_then([=] { if (n) std::memmove(dst, src, n); });
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t s) {
  if (cudaError_t e = fail_if_sticky()) return e;
  if (n && (pageable(dst) || pageable(src)) && !srgan::emu::is_capturing(s))  // pageable host memory:
    return sync_then([=] { std::memmove(dst, src, n); });                     // done when the call returns
  issue(s, [dst, src, n] { if (n) std::memmove(dst, src, n); });
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int v, size_t n) {
  if (cudaError_t e = fail_if_sticky()) return e;
  if (cudaError_t e = check_capture_unsafe("cudaMemset (synchronous)", false)) return e;
  return sync_then([=] { if (n) std::memset(p, v, n); });
}
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t s) {
  if (cudaError_t e = fail_if_sticky()) return e;
  issue(s, [p, v, n] { if (n) std::memset(p, v, n); });
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  if (cudaError_t e = check_capture_unsafe("cudaDeviceSynchronize", false)) return e;
  drain();
  return fail_if_sticky();
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (is_capturing(s)) return check_capture_unsafe("cudaStreamSynchronize", false);
  drain();
  return fail_if_sticky();
}

cudaError_t cudaGetLastError(void) {
  std::lock_guard<std::mutex> lk(srgan::emu::g_err_mu);
  const cudaError_t e = srgan::emu::g_last;
  srgan::emu::g_last = srgan::emu::g_sticky;
  return e;
}
cudaError_t cudaPeekAtLastError(void) {
  std::lock_guard<std::mutex> lk(srgan::emu::g_err_mu);
  return srgan::emu::g_last;
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument (CUDA emulator)";
    case cudaErrorMemoryAllocation: return "out of memory (CUDA emulator)";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (CUDA emulator)";
    case cudaErrorInvalidDevice: return "invalid device ordinal (CUDA emulator)";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing (CUDA emulator)";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture (CUDA emulator)";
    case cudaErrorIllegalState: return "the stream is not being captured (CUDA emulator)";
    case cudaErrorLaunchFailure: {
      std::lock_guard<std::mutex> lk(srgan::emu::g_err_mu);
      static thread_local std::string msg;
      msg = srgan::emu::g_fault.empty() ? "unspecified launch failure (CUDA emulator)" : srgan::emu::g_fault;
      return msg.c_str();
    }
    default: return "error (CUDA emulator)";
  }
}
const char* cudaGetErrorName(cudaError_t e) { return cudaGetErrorString(e); }

cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int flags) {
  *s = new CUstream_st;
  srgan::emu::stream_created(*s, (flags & cudaStreamNonBlocking) == 0);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  srgan::emu::stream_destroyed(s);
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t ev, unsigned int) {
  if (cudaError_t e = fail_if_sticky()) return e;
  srgan::emu::enqueue_after(s, [] {}, ev->op);  // s's later work waits for ev's record
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* st) {
  *st = is_capturing(s) ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return fail_if_sticky();
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  if (!s) return cudaErrorStreamCaptureUnsupported;  // the legacy default stream cannot be captured
  (void)mode;  // the emulator treats global and thread-local capture alike: this thread's captures
  std::lock_guard<std::mutex> lk(srgan::emu::g_cap_mu);
  if (srgan::emu::g_captures.count(s)) return cudaErrorIllegalState;
  srgan::emu::g_captures[s].owner = std::this_thread::get_id();
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g) {
  std::lock_guard<std::mutex> lk(srgan::emu::g_cap_mu);
  auto it = srgan::emu::g_captures.find(s);
  *g = nullptr;
  if (it == srgan::emu::g_captures.end()) return cudaErrorIllegalState;
  const bool bad = it->second.invalidated;
  if (!bad) *g = new CUgraph_st{std::move(it->second.nodes)};
  srgan::emu::g_captures.erase(it);
  return bad ? cudaErrorStreamCaptureInvalidated : cudaSuccess;
}
cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  std::swap(*mode, srgan::emu::tl_capture_mode);
  return cudaSuccess;
}
cudaError_t cudaGraphGetNodes(cudaGraph_t g, cudaGraphNode_t* nodes, size_t* n) {
  if (!g || nodes) return cudaErrorInvalidValue;  // only the count is emulated
  *n = g->nodes.size();
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g, unsigned long long) {
  if (!g) return cudaErrorInvalidValue;
  *exec = new CUgraphExec_st{g->nodes};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  if (cudaError_t e = fail_if_sticky()) return e;
  if (!exec) return cudaErrorInvalidValue;
  if (is_capturing(s)) return cudaErrorStreamCaptureUnsupported;  // not needed by srgan
  for (const auto& node : exec->nodes) issue(s, node);
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* ev) {
  *ev = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* ev, unsigned int) { return cudaEventCreate(ev); }
cudaError_t cudaEventDestroy(cudaEvent_t ev) {
  // As in CUDA, an event may be destroyed while a record of it is still queued: it is released
  // once that work has run (deleting it now would let the queued record write freed memory).
  srgan::emu::enqueue_after(nullptr, [ev] { delete ev; }, ev->op);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t s) {
  ev->op = srgan::emu::enqueue_after(s, [ev] { ev->t = std::chrono::steady_clock::now(); }, 0);
  return fail_if_sticky();
}
cudaError_t cudaEventSynchronize(cudaEvent_t) {
  if (cudaError_t e = check_capture_unsafe("cudaEventSynchronize", false)) return e;
  drain();
  return fail_if_sticky();
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

// cuDNN and cuBLAS: the baselines cannot run in the emulator.
cudnnStatus_t cudnnCreate(cudnnHandle_t*) { return CUDNN_STATUS_NOT_SUPPORTED; }
cudnnStatus_t cudnnDestroy(cudnnHandle_t) { return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetStream(cudnnHandle_t, cudaStream_t) { return CUDNN_STATUS_NOT_SUPPORTED; }
const char* cudnnGetErrorString(cudnnStatus_t) { return "cuDNN is not available in the CUDA emulator"; }
cublasStatus_t cublasCreate_v2(cublasHandle_t*) { return CUBLAS_STATUS_NOT_SUPPORTED; }
cublasStatus_t cublasDestroy_v2(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_NOT_SUPPORTED; }

}  // extern "C"
