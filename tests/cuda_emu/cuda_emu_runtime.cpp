// The CUDA emulator's engine (see cuda_emu.h): the block scheduler that runs every CUDA thread
// as a fiber, the warp collectives, cp.async queues and the tensor-core mma, and the slice of
// the CUDA runtime API that our kernels and tests call (memory, copies, streams, errors), backed
// by host memory. cuDNN and cuBLAS handles cannot be created here.
// Switches use _setjmp/_longjmp between stacks (swapcontext would make two system calls per
// switch to save the signal mask); the fortified longjmp would refuse to jump to another stack.
#undef _FORTIFY_SOURCE
#include "tests/cuda_emu/cuda_emu.h"  // first: it defines __shared__ before the CUDA headers do

#include <cublas_v2.h>
#include <cudnn.h>
#include <setjmp.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

thread_local uint3 threadIdx{};
thread_local uint3 blockIdx{};
thread_local dim3 blockDim{};
thread_local dim3 gridDim{};

namespace srgan::emu {
namespace {

// ---- error state (shared by all host threads, like a device's) --------------------------------

std::mutex g_err_mu;
cudaError_t g_last = cudaSuccess;    // cleared by cudaGetLastError
cudaError_t g_sticky = cudaSuccess;  // a kernel fault: every later call fails, as on a GPU
std::string g_fault;                 // what the fault was

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

// ---- fibers ----------------------------------------------------------------------------------

enum class State { ready, at_syncthreads, at_warp, done };

struct CpCopy {
  void* dst;
  const void* src;
  int bytes, src_bytes;
};

struct Fiber {
  ucontext_t ctx;   // only to start the fiber on its stack
  jmp_buf jb;       // where it resumes
  bool started = false;
  uint3 tid;
  int linear = 0;
  State st = State::ready;
  unsigned warp_mask = 0;   // mask of the warp collective it waits in
  size_t warp_bytes = 0;
  unsigned warp_gen = 0;    // collectives entered so far (selects the exchange buffer)
  std::vector<CpCopy> open;                // cp.async not yet committed
  std::deque<std::vector<CpCopy>> groups;  // committed, oldest first
};

constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kSlotBytes = kWarpSlotBytes;

// The order in which a block's threads run between two barriers. `mixed` (the default) runs
// even-numbered launches forward and odd-numbered ones reversed, so over a test's many launches
// a kernel meets both; `alternate` flips the order at every barrier of a block.
enum class Order { forward, reverse, alternate, mixed };

Order order_from_env() {
  const char* e = std::getenv("SRGAN_EMU_ORDER");
  if (!e || !*e || std::string(e) == "mixed") return Order::mixed;
  if (std::string(e) == "forward") return Order::forward;
  if (std::string(e) == "reverse") return Order::reverse;
  if (std::string(e) == "alternate") return Order::alternate;
  std::fprintf(stderr, "[cuda emulator] SRGAN_EMU_ORDER=%s is not mixed|forward|reverse|alternate\n", e);
  std::exit(2);
}

// Runs blocks on the host thread that owns it. One per host thread.
class BlockRunner {
 public:
  ~BlockRunner() {
    for (char* s : stacks_) std::free(s);
  }

  // Runs one block; returns false (with error_) on a fault. The fibers persist from block to
  // block: each loops over "run the kernel body, report done", so a block costs two switches
  // per thread; a fault abandons the fibers' stacks, and they are started afresh.
  bool run(const std::function<void()>& body, dim3 block, Order order) {
    const int n = int(block.x * block.y * block.z);
    body_ = &body;
    error_.clear();
    while (int(stacks_.size()) < n) {
      char* s = static_cast<char*>(std::malloc(kStackBytes));
      if (!s) { error_ = "out of host memory for thread stacks"; return false; }
      stacks_.push_back(s);
    }
    if (fibers_.size() < size_t(n)) fibers_.resize(size_t(n));
    n_ = n;
    xbuf_.assign(size_t((n + 31) / 32) * 2 * 32 * kSlotBytes, 0);
    for (int i = 0; i < n; ++i) {
      Fiber& f = fibers_[size_t(i)];
      f.linear = i;
      f.tid = uint3{unsigned(i % int(block.x)), unsigned((i / int(block.x)) % int(block.y)),
                    unsigned(i / int(block.x * block.y))};
      f.st = State::ready;
      f.warp_gen = 0;
      f.open.clear();
      f.groups.clear();
    }
    int phase = 0;
    for (;;) {
      const bool rev = order == Order::reverse || (order == Order::alternate && (phase & 1));
      for (int k = 0; k < n; ++k) {
        const int i = rev ? n - 1 - k : k;
        Fiber& f = fibers_[size_t(i)];
        if (f.st != State::ready) continue;
        cur_ = i;
        threadIdx = f.tid;
        resume(f);
        if (!error_.empty()) {
          for (Fiber& g : fibers_) g.started = false;  // abandon every stack mid-kernel
          return false;
        }
      }
      // Every thread now waits at a barrier or has exited.
      if (release_warps()) continue;
      if (error_.empty()) {
        int done = 0, waiting = 0;
        for (int i = 0; i < n; ++i) {
          if (fibers_[size_t(i)].st == State::done) ++done;
          if (fibers_[size_t(i)].st == State::at_syncthreads) ++waiting;
        }
        if (done == n) return true;
        if (waiting + done == n && done == 0) {
          for (int i = 0; i < n; ++i) fibers_[size_t(i)].st = State::ready;
          ++phase;
          continue;
        }
        if (waiting + done == n)
          error_ = std::to_string(done) + " of " + std::to_string(n) +
                   " threads exited while the others wait at __syncthreads (barrier divergence)";
        else
          error_ = "deadlock: threads wait at __syncthreads while lanes of their warps wait in a warp collective";
      }
      for (Fiber& g : fibers_) g.started = false;
      return false;
    }
  }

  const std::string& error() const { return error_; }
  Fiber& current() { return fibers_[size_t(cur_)]; }

  // Suspends the calling fiber in state s until the scheduler releases it.
  void suspend(State s) {
    Fiber& f = current();
    f.st = s;
    if (!_setjmp(f.jb)) _longjmp(sched_jb_, 1);
  }

  unsigned char* slot(int warp, unsigned gen, int lane) {
    return &xbuf_[((size_t(warp) * 2 + (gen & 1u)) * 32 + size_t(lane)) * kSlotBytes];
  }

  void fault(const std::string& why) {  // called from a fiber: record and never resume it
    error_ = "thread (" + std::to_string(current().tid.x) + "," + std::to_string(current().tid.y) + "," +
             std::to_string(current().tid.z) + "): " + why;
    _longjmp(sched_jb_, 1);  // never resumed: the scheduler abandons the block
  }

 private:
  static void fiber_main();

  // Runs fiber f until it suspends or finishes the block's body.
  void resume(Fiber& f) {
    if (_setjmp(sched_jb_)) return;  // the fiber jumped back
    if (f.started) _longjmp(f.jb, 1);
    f.started = true;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = stacks_[size_t(&f - fibers_.data())];
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = nullptr;  // fiber_main never returns
    makecontext(&f.ctx, &BlockRunner::fiber_main, 0);
    setcontext(&f.ctx);
  }

  // Releases every warp whose collective is complete. Records an error for one that can never
  // complete (a named lane exited, or the lanes disagree on the mask or size).
  bool release_warps() {
    bool released = false;
    const int n = n_;
    for (int w0 = 0; w0 < n; w0 += 32) {
      int first = -1;
      for (int i = w0; i < std::min(n, w0 + 32); ++i)
        if (fibers_[size_t(i)].st == State::at_warp) { first = i; break; }
      if (first < 0) continue;
      const unsigned mask = fibers_[size_t(first)].warp_mask;
      const size_t bytes = fibers_[size_t(first)].warp_bytes;
      bool complete = true;
      for (int l = 0; l < 32; ++l) {
        if (!(mask >> l & 1u)) continue;
        const int i = w0 + l;
        if (i >= n) {
          error_ = "warp collective names lane " + std::to_string(l) + " of warp " + std::to_string(w0 / 32) +
                   ", which does not exist (block of " + std::to_string(n) + " threads)";
          return false;
        }
        const Fiber& f = fibers_[size_t(i)];
        if (f.st == State::done) {
          error_ = "warp collective names lane " + std::to_string(l) + " of warp " + std::to_string(w0 / 32) +
                   ", which has exited";
          return false;
        }
        if (f.st != State::at_warp) { complete = false; continue; }
        if (f.warp_mask != mask || f.warp_bytes != bytes) {
          error_ = "lanes of warp " + std::to_string(w0 / 32) + " disagree on a collective's mask or size";
          return false;
        }
      }
      if (!complete) continue;
      for (int l = 0; l < 32; ++l)
        if (mask >> l & 1u) fibers_[size_t(w0 + l)].st = State::ready;
      released = true;
    }
    return released;
  }

  std::vector<char*> stacks_;
  std::vector<Fiber> fibers_;
  std::vector<unsigned char> xbuf_;  // [warp][2][32 lanes][kSlotBytes]
  jmp_buf sched_jb_;
  int n_ = 0;  // threads of the current block (fibers_ may hold more, from earlier blocks)
  int cur_ = 0;
  const std::function<void()>* body_ = nullptr;
  std::string error_;
};

thread_local BlockRunner* tl_runner = nullptr;

BlockRunner& runner_in_kernel(const char* what) {
  if (!tl_runner) {
    std::fprintf(stderr, "[cuda emulator] %s called outside a kernel\n", what);
    std::abort();
  }
  return *tl_runner;
}

void perform(const std::vector<CpCopy>& group) {
  for (const CpCopy& c : group) {
    if (c.src_bytes > 0) std::memcpy(c.dst, c.src, size_t(c.src_bytes));
    if (c.bytes > c.src_bytes) std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, size_t(c.bytes - c.src_bytes));
  }
}

void BlockRunner::fiber_main() {
  for (;;) {  // one iteration per block
    BlockRunner& r = *tl_runner;
    Fiber& f = r.current();
    try {
      (*r.body_)();
    } catch (const std::exception& e) {
      r.error_ = std::string("exception inside the kernel: ") + e.what();
    } catch (...) {
      r.error_ = "exception inside the kernel";
    }
    // cp.async copies never waited for still land before the kernel ends.
    if (!f.open.empty()) f.groups.push_back(std::move(f.open));
    for (const auto& g : f.groups) perform(g);
    f.groups.clear();
    f.open.clear();
    r.suspend(State::done);
  }
}

// ---- the pool of host threads that run blocks ------------------------------------------------

class BlockPool {
 public:
  static BlockPool& get() {
    static BlockPool p;
    return p;
  }

  // Runs every block of the grid; returns "" or the first fault.
  std::string run_grid(const std::function<void()>& body, dim3 grid, dim3 block) {
    std::lock_guard<std::mutex> one_launch(launch_mu_);  // launches run one at a time
    job_ = Job{&body, grid, block, int64_t(grid.x) * grid.y * grid.z,
               order_ != Order::mixed ? order_ : (launches_++ % 2 ? Order::reverse : Order::forward)};
    next_.store(0);
    failed_.store(false);
    fault_.clear();
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++generation_;
      busy_ = int(workers_.size());
    }
    cv_.notify_all();
    work();  // the launching thread works too
    std::unique_lock<std::mutex> lk(mu_);
    idle_cv_.wait(lk, [&] { return busy_ == 0; });
    return fault_;
  }

 private:
  struct Job {
    const std::function<void()>* body = nullptr;
    dim3 grid, block;
    int64_t blocks = 0;
    Order order = Order::forward;
  };

  BlockPool() {
    int n = int(std::thread::hardware_concurrency());
    if (const char* e = std::getenv("SRGAN_EMU_THREADS")) n = std::atoi(e);
    n = std::max(1, std::min(n, 16));
    order_ = order_from_env();
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { worker(); });
  }
  ~BlockPool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void worker() {
    unsigned seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      work();
      std::lock_guard<std::mutex> lk(mu_);
      if (--busy_ == 0) idle_cv_.notify_all();
    }
  }

  void work() {
    thread_local BlockRunner runner;
    tl_runner = &runner;
    blockDim = job_.block;
    gridDim = job_.grid;
    for (;;) {
      const int64_t b = next_.fetch_add(1);
      if (b >= job_.blocks || failed_.load()) break;
      blockIdx = uint3{unsigned(b % job_.grid.x), unsigned((b / job_.grid.x) % job_.grid.y),
                       unsigned(b / (int64_t(job_.grid.x) * job_.grid.y))};
      if (!runner.run(*job_.body, job_.block, job_.order)) {
        std::lock_guard<std::mutex> lk(fault_mu_);
        if (!failed_.exchange(true))
          fault_ = "block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," +
                   std::to_string(blockIdx.z) + ") " + runner.error();
      }
    }
    tl_runner = nullptr;
  }

  std::mutex launch_mu_, mu_, fault_mu_;
  std::condition_variable cv_, idle_cv_;
  std::vector<std::thread> workers_;
  unsigned generation_ = 0;
  int busy_ = 0;
  bool stop_ = false;
  Order order_ = Order::mixed;
  uint64_t launches_ = 0;
  Job job_;
  std::atomic<int64_t> next_{0};
  std::atomic<bool> failed_{false};
  std::string fault_;
};

}  // namespace

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

}  // namespace

// ---- collectives and PTX ---------------------------------------------------------------------

void syncthreads() { runner_in_kernel("__syncthreads").suspend(State::at_syncthreads); }

int lane_id() { return runner_in_kernel("lane_id").current().linear & 31; }

const unsigned char* warp_exchange(unsigned mask, const void* mine, size_t bytes) {
  BlockRunner& r = runner_in_kernel("a warp collective");
  Fiber& f = r.current();
  const int warp = f.linear / 32, lane = f.linear % 32;
  if (bytes > kSlotBytes) r.fault("warp collective of more than 64 bytes per lane");
  if (!(mask >> lane & 1u)) r.fault("warp collective called by a lane its mask leaves out");
  const unsigned gen = f.warp_gen++;
  std::memcpy(r.slot(warp, gen, lane), mine, bytes);
  f.warp_mask = mask;
  f.warp_bytes = bytes;
  r.suspend(State::at_warp);
  // Released: every lane of the mask has written its slot of this generation. The next
  // collective uses the other buffer, and no lane can reach the one after (which reuses this
  // buffer) before every lane has arrived at the next, so these slots stay intact until the
  // caller's next collective.
  return r.slot(warp, gen, 0);
}

void cp_async(void* dst, const void* src, int bytes, int src_bytes) {
  BlockRunner& r = runner_in_kernel("cp.async");
  if (bytes != 4 && bytes != 8 && bytes != 16) r.fault("cp.async of " + std::to_string(bytes) + " bytes");
  if (src_bytes < 0 || src_bytes > bytes) r.fault("cp.async src-size out of range");
  if (reinterpret_cast<uintptr_t>(dst) % unsigned(bytes) != 0 ||
      (src_bytes > 0 && reinterpret_cast<uintptr_t>(src) % unsigned(bytes) != 0))
    r.fault("misaligned cp.async of " + std::to_string(bytes) + " bytes");
  // Between issue and wait the destination is undefined (the copy may land at any moment): it
  // reads as NaN here, so a thread that reads it too early, or overwrites a tile other threads
  // are still reading, produces NaNs instead of a lucky right answer.
  std::memset(dst, 0xFF, size_t(bytes));
  r.current().open.push_back(CpCopy{dst, src, bytes, src_bytes});
}

void cp_async_commit() {
  Fiber& f = runner_in_kernel("cp.async.commit_group").current();
  f.groups.push_back(std::move(f.open));
  f.open.clear();
}

void cp_async_wait(int n) {
  Fiber& f = runner_in_kernel("cp.async.wait_group").current();
  while (int(f.groups.size()) > n) {
    perform(f.groups.front());
    f.groups.pop_front();
  }
}

uint32_t cvt_rna_tf32(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return u;  // inf and NaN pass through
  return (u + 0x1000u) & 0xffffe000u;               // round half away from zero to 10 bits
}

void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  struct Frag {
    uint32_t a[4], b[2];
  };
  const Frag mine{{a[0], a[1], a[2], a[3]}, {b[0], b[1]}};
  const unsigned char* slots = warp_exchange(0xffffffffu, &mine, sizeof(Frag));
  // Word w of lane l's Frag (a0..a3 are words 0-3, b0, b1 words 4-5), read as TF32: the tensor
  // core reads only the TF32 bits of each operand.
  auto tf32_word = [slots](int l, int w) {
    uint32_t u;
    std::memcpy(&u, slots + size_t(l) * kSlotBytes + size_t(w) * 4, 4);
    u &= 0xffffe000u;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  // PTX ISA, "Matrix Fragments for mma.m16n8k8" (.tf32), with g = lane >> 2, t = lane % 4:
  //   A (16x8, row): a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4)
  //   B (8x8, col):  b0 (t, g), b1 (t+4, g)
  //   C/D (16x8):    c0 (g, 2t), c1 (g, 2t+1), c2 (g+8, 2t), c3 (g+8, 2t+1)
  // so A[r][k] is register (r >= 8) + 2 (k >= 4) of lane 4 (r % 8) + k % 4, and B[k][c] is
  // register (k >= 4) of lane 4 c + k % 4.
  const int lane = lane_id(), g = lane >> 2, t = lane & 3;
  for (int e = 0; e < 4; ++e) {
    const int r = e < 2 ? g : g + 8, c = 2 * t + (e & 1);
    double s = d[e];  // C = D: each lane's accumulators are its own. TF32 products are exact in double; one rounding at the end
    for (int k = 0; k < 8; ++k) {
      const float av = tf32_word(4 * (r % 8) + k % 4, (r >= 8 ? 1 : 0) + (k >= 4 ? 2 : 0));
      const float bv = tf32_word(4 * c + k % 4, 4 + (k >= 4 ? 1 : 0));
      s += double(av) * double(bv);
    }
    d[e] = float(s);
  }
}

// ---- launch ----------------------------------------------------------------------------------

void run_kernel(const std::string& kernel, dim3 grid, dim3 block, const std::function<void()>& body) {
  if (sticky() != cudaSuccess) return;
  const std::string fault = BlockPool::get().run_grid(body, grid, block);
  if (!fault.empty()) set_fault(kernel + ": " + fault);
}

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
  if (smem > 48 * 1024) {
    set_launch_error(cudaErrorInvalidValue, std::string(kernel) + ": dynamic shared memory over 48 KiB");
    return;
  }
  std::string name = kernel;
  if (record_if_capturing(s, [name, grid, block, body] { run_kernel(name, grid, block, body); })) return;
  run_kernel(name, grid, block, body);
}

}  // namespace srgan::emu

// ---- the CUDA runtime API, backed by host memory ---------------------------------------------

// The opaque handle types of the runtime, defined here.
struct CUstream_st {
  int unused = 0;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point t;
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
using srgan::emu::record_if_capturing;

std::mutex g_alloc_mu;
std::set<void*> g_device_allocs, g_host_allocs;

cudaError_t fail_if_sticky() { return srgan::emu::sticky(); }

void* alloc256(size_t bytes) { return std::aligned_alloc(256, (std::max<size_t>(bytes, 1) + 255) & ~size_t(255)); }

}  // namespace

extern "C" {

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
    default: *value = 0; break;
  }
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
  *p = alloc256(bytes);
  if (!*p) return cudaErrorMemoryAllocation;
  std::lock_guard<std::mutex> lk(g_alloc_mu);
  g_device_allocs.insert(*p);
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  if (cudaError_t e = check_capture_unsafe("cudaFree", true)) return e;
  {
    std::lock_guard<std::mutex> lk(g_alloc_mu);
    if (!g_device_allocs.erase(p)) return cudaErrorInvalidValue;
  }
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned int) {
  *p = alloc256(bytes);
  if (!*p) return cudaErrorMemoryAllocation;
  std::lock_guard<std::mutex> lk(g_alloc_mu);
  g_host_allocs.insert(*p);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t bytes) { return cudaHostAlloc(p, bytes, 0); }
cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lk(g_alloc_mu);
    if (!g_host_allocs.erase(p)) return cudaErrorInvalidValue;
  }
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind) {
  if (cudaError_t e = fail_if_sticky()) return e;
  if (cudaError_t e = check_capture_unsafe("cudaMemcpy (synchronous)", false)) return e;
  if (n) std::memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t s) {
  if (cudaError_t e = fail_if_sticky()) return e;
  if (record_if_capturing(s, [dst, src, n] { if (n) std::memmove(dst, src, n); })) return cudaSuccess;
  if (n) std::memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int v, size_t n) {
  if (cudaError_t e = fail_if_sticky()) return e;
  if (cudaError_t e = check_capture_unsafe("cudaMemset (synchronous)", false)) return e;
  if (n) std::memset(p, v, n);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t s) {
  if (cudaError_t e = fail_if_sticky()) return e;
  if (record_if_capturing(s, [p, v, n] { if (n) std::memset(p, v, n); })) return cudaSuccess;
  if (n) std::memset(p, v, n);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  if (cudaError_t e = check_capture_unsafe("cudaDeviceSynchronize", false)) return e;
  return fail_if_sticky();
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (is_capturing(s)) return check_capture_unsafe("cudaStreamSynchronize", false);
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

cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = new CUstream_st;
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) { return cudaStreamCreate(s); }
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
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
  for (const auto& node : exec->nodes) node();
  return fail_if_sticky();
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
  delete ev;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t s) {
  if (record_if_capturing(s, [ev] { ev->t = std::chrono::steady_clock::now(); })) return cudaSuccess;
  ev->t = std::chrono::steady_clock::now();
  return fail_if_sticky();
}
cudaError_t cudaEventSynchronize(cudaEvent_t) {
  if (cudaError_t e = check_capture_unsafe("cudaEventSynchronize", false)) return e;
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
