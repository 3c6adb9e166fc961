// Device memory of the CUDA emulator (see cuda_emu.h), fenced off from host code.
//
// On a GPU, host code that dereferences a cudaMalloc pointer crashes; in an emulator whose device
// memory is host memory it would quietly work, and the bug would wait for the first GPU run. So
// each device allocation is its own mapping, and its pages are inaccessible (PROT_NONE) except
// while the emulated device works: kernels, copies and sets run inside a DeviceAccess window
// (emu_runtime_api.cpp), which opens every allocation. A host access outside such a window
// faults, and the SIGSEGV handler below says which allocation was touched before the process
// dies, so the test fails naming the problem.
//
// The allocation sits at the end of its pages (256-byte aligned, as cudaMalloc's are), followed by
// a guard page that is never opened: a kernel running more than the alignment slack past the end
// of a buffer faults too. SRGAN_EMU_FENCE=0 turns the fence off. In an AddressSanitizer build
// allocations are plain exact-size heap blocks instead (ASan then reports any out-of-bounds
// access itself, to the byte), and there is no fence.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include <execinfo.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "tests/cuda_emu/emu_internal.h"

namespace srgan::emu {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif

struct Block {
  char* map = nullptr;    // start of the mapping: data pages, then one guard page
  size_t data_bytes = 0;  // bytes of the data pages
  size_t bytes = 0;       // what cudaMalloc was asked for
};

std::mutex g_mu;
std::map<const char*, Block> g_blocks;  // user pointer -> block
int g_open = 0;                         // DeviceAccess windows open, over all host threads

size_t page_size() {
  static const size_t p = size_t(sysconf(_SC_PAGESIZE));
  return p;
}
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

bool fence_on() {
  static const bool on = [] {
    if (kSanitizer) return false;
    const char* e = std::getenv("SRGAN_EMU_FENCE");
    return !(e && *e == '0');
  }();
  return on;
}

void protect(const Block& b, bool open) {
  if (mprotect(b.map, b.data_bytes, open ? PROT_READ | PROT_WRITE : PROT_NONE) != 0) {
    std::perror("[cuda emulator] mprotect");
    std::abort();
  }
}

// The block whose data pages, slack or guard page hold `addr` (caller holds g_mu), or null.
const std::pair<const char* const, Block>* block_near(const char* addr) {
  auto it = g_blocks.upper_bound(addr);
  if (it == g_blocks.begin()) return nullptr;
  --it;
  const Block& b = it->second;
  return addr >= b.map && addr < b.map + b.data_bytes + page_size() ? &*it : nullptr;
}

struct sigaction g_previous {};  // the SIGSEGV handler ours replaced (install_fault_reporter)

void report_fault(int, siginfo_t* info, void*) {
  const char* addr = static_cast<const char*>(info->si_addr);
  char msg[512];
  size_t n = 0;
  auto append = [&](const char* fmt, auto... v) {  // snprintf into the rest of msg, never past it
    const int w = std::snprintf(msg + n, sizeof msg - n, fmt, v...);
    if (w > 0) n = std::min(sizeof msg - 1, n + size_t(w));
  };
  append("[cuda emulator] segmentation fault at %p", static_cast<const void*>(addr));
  if (g_mu.try_lock()) {  // the faulting thread may hold it only outside any device access
    if (const auto* e = block_near(addr)) {
      const char* p = e->first;
      const Block& b = e->second;
      const long long off = static_cast<long long>(addr - p);
      if (addr >= p && addr < p + b.bytes && g_open == 0)
        append(": host code touched byte %lld of a %zu-byte device allocation at %p outside any kernel or "
               "copy. A GPU cannot do that: copy the data to the host first.",
               off, b.bytes, static_cast<const void*>(p));
      else
        append(": byte %lld of a %zu-byte device allocation at %p, out of its bounds (an out-of-bounds "
               "access by a kernel or a copy).",
               off, b.bytes, static_cast<const void*>(p));
    } else {
      append(" (not device memory)");
    }
    g_mu.unlock();
  }
  append("\nbacktrace:\n");
  if (write(STDERR_FILENO, msg, n) < 0) {}
  void* frames[48];
  backtrace_symbols_fd(frames, backtrace(frames, 48), STDERR_FILENO);
  // Returning re-runs the access, which now goes to the handler that was there before ours (the
  // test framework's, which names the test case) or kills the process.
  sigaction(SIGSEGV, &g_previous, nullptr);
}

// Puts our SIGSEGV handler in front, keeping the one it replaces. Called whenever device memory
// is closed, as a test framework may install its own handler at each test case.
void install_fault_reporter() {
  struct sigaction current {};
  sigaction(SIGSEGV, nullptr, &current);
  if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == report_fault) return;
  struct sigaction sa {};
  sa.sa_sigaction = report_fault;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_previous);
}

}  // namespace

// New allocations hold 0xFF bytes (NaN as floats): cudaMalloc promises no contents, and memory
// the driver recycles within a process holds old data, so code that counts on zeros must fail
// here too rather than pass on the zero pages a fresh mapping would give.
void* device_alloc(size_t bytes) {
  if (!fence_on()) {
    void* p = nullptr;  // exact size, so that ASan flags a kernel reading or writing past the end
    if (posix_memalign(&p, 256, std::max<size_t>(bytes, 1)) != 0) return nullptr;
    std::memset(p, 0xFF, std::max<size_t>(bytes, 1));
    std::lock_guard<std::mutex> lk(g_mu);
    g_blocks[static_cast<const char*>(p)] = Block{static_cast<char*>(p), 0, bytes};
    return p;
  }
  install_fault_reporter();
  Block b;
  b.bytes = bytes;
  b.data_bytes = round_up(std::max<size_t>(bytes, 1), page_size());
  void* m = mmap(nullptr, b.data_bytes + page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  b.map = static_cast<char*>(m);
  char* p = b.map + b.data_bytes - round_up(std::max<size_t>(bytes, 1), 256);
  protect(b, true);
  std::memset(b.map, 0xFF, b.data_bytes);
  std::lock_guard<std::mutex> lk(g_mu);
  if (g_open == 0) protect(b, false);
  g_blocks[p] = b;
  return p;
}

bool device_free(void* p) {
  Block b;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    auto it = g_blocks.find(static_cast<const char*>(p));
    if (it == g_blocks.end()) return false;
    b = it->second;
    g_blocks.erase(it);
  }
  if (b.data_bytes == 0) std::free(p);
  else munmap(b.map, b.data_bytes + page_size());
  return true;
}

bool device_fence_on() { return fence_on(); }

bool is_device_memory(const void* p) {
  const char* c = static_cast<const char*>(p);
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_blocks.upper_bound(c);
  if (it == g_blocks.begin()) return false;
  --it;
  return c < it->first + std::max<size_t>(it->second.bytes, 1);
}

std::vector<std::pair<uint64_t, uint64_t>> device_ranges() {
  std::lock_guard<std::mutex> lk(g_mu);
  std::vector<std::pair<uint64_t, uint64_t>> r;
  r.reserve(g_blocks.size());
  for (const auto& [p, b] : g_blocks) {
    const uint64_t a = reinterpret_cast<uint64_t>(p);
    r.emplace_back(a, a + round_up(std::max<size_t>(b.bytes, 1), 256));  // the map keeps them sorted
  }
  return r;
}

DeviceAccess::DeviceAccess() {
  std::lock_guard<std::mutex> lk(g_mu);
  if (g_open++ == 0 && fence_on())
    for (const auto& [p, b] : g_blocks) protect(b, true);
}

DeviceAccess::~DeviceAccess() {
  std::lock_guard<std::mutex> lk(g_mu);
  if (--g_open == 0 && fence_on()) {
    for (const auto& [p, b] : g_blocks) protect(b, false);
    install_fault_reporter();
  }
}

}  // namespace srgan::emu
