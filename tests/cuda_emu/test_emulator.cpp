// Self-tests of the CUDA emulator (tests/cuda_emu): the checks it promises beyond running the
// kernels, each shown to fire. Kernels come from selftest/selftest_kernels.cu. The faults are
// provoked in a forked child, which must die of SIGSEGV. ctest runs it with SRGAN_EMU_THREADS=1.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/cuda_emu/emu_internal.h"
#include "tests/cuda_emu/selftest/selftest_kernels.h"
#include "tests/test_common.h"

namespace {

// Runs f in a forked child and returns its wait status. In the child a fault goes to the
// emulator's reporter (on stderr, kept in the test log) and then kills it; the test framework's
// handler, whose report would read as a failure of this test, and its stdout are left out. The
// child must not launch kernels: the block pool's threads are not copied by fork.
template <class F> int in_child(F f) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
    std::signal(SIGSEGV, SIG_DFL);  // not the test framework's handler, which would report a failure
    { srgan::emu::DeviceAccess reinstall; }  // closing device memory puts the emulator's reporter first
    f();
    std::_Exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

bool died_of_segv(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV; }

}  // namespace

TEST_CASE("emulator: shared memory a block did not write reads as NaN, not as the previous block's data",
          "[emulator]") {
  const int blocks = 6;
  float* out = nullptr;
  REQUIRE(cudaMalloc(&out, blocks * 64 * sizeof(float)) == cudaSuccess);
  srgan::emu::selftest::launch_partly_written_shared(out, blocks);
  std::vector<float> h(blocks * 64);
  REQUIRE(cudaMemcpy(h.data(), out, h.size() * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
  REQUIRE(cudaFree(out) == cudaSuccess);
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < 64; ++t) {
      INFO("block " << b << ", thread " << t);
      if (b == 0 || t < 32) CHECK(h[size_t(b * 64 + t)] == 1.0f);
      else CHECK(std::isnan(h[size_t(b * 64 + t)]));
    }
}

TEST_CASE("emulator: device memory starts as NaN, works through copies and sets, and host code touching it dies",
          "[emulator]") {
  float* d = nullptr;
  REQUIRE(cudaMalloc(&d, 1000 * sizeof(float)) == cudaSuccess);
  std::vector<float> in(1000, 2.5f), back(1000, 0.0f);
  REQUIRE(cudaMemcpy(back.data(), d, back.size() * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(std::isnan(back[0]));  // a new allocation holds NaN bytes, not zeros
  CHECK(std::isnan(back[999]));
  REQUIRE(cudaMemcpy(d, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemset(d, 0, 10 * sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMemcpy(back.data(), d, back.size() * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(back[0] == 0.0f);
  CHECK(back[9] == 0.0f);
  CHECK(back[10] == 2.5f);
  CHECK(back[999] == 2.5f);
  if (!srgan::emu::device_fence_on()) {
    WARN("device memory fence off (AddressSanitizer build or SRGAN_EMU_FENCE=0): host accesses not checked");
    REQUIRE(cudaFree(d) == cudaSuccess);
    return;
  }

  SECTION("a host read of a device pointer") {
    CHECK(died_of_segv(in_child([d] {
      volatile float x = d[3];
      (void)x;
    })));
  }
  SECTION("a host write through a device pointer") {
    CHECK(died_of_segv(in_child([d] { d[999] = 1.0f; })));
  }
  SECTION("device work running past the end of an allocation, beyond the alignment slack") {
    CHECK(died_of_segv(in_child([d] {
      srgan::emu::DeviceAccess open;  // as while a kernel runs
      d[999] = 1.0f;                  // in bounds: fine
      volatile float x = d[1000 + 64];  // 256 bytes past the end: the guard page
      (void)x;
    })));
  }
  SECTION("the same accesses from device work and in bounds are fine") {
    const int status = in_child([d] {
      srgan::emu::DeviceAccess open;
      d[0] = d[999] + 1.0f;
    });
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  REQUIRE(cudaFree(d) == cudaSuccess);
}

TEST_CASE("emulator: blocks run in opposite orders on consecutive launches, so a race between blocks shows",
          "[emulator]") {
  const char* order = std::getenv("SRGAN_EMU_ORDER");
  if (order && *order && std::string(order) != "mixed") {
    WARN("SRGAN_EMU_ORDER=" << order << ": block order fixed, not checked");
    return;
  }
  // With several host threads the last writer depends on their timing (a preempted thread can
  // finish block 0 last): ctest runs this with SRGAN_EMU_THREADS=1.
  const char* threads = std::getenv("SRGAN_EMU_THREADS");
  if (!threads || std::string(threads) != "1") {
    WARN("not checked: run with SRGAN_EMU_THREADS=1 (ctest does)");
    return;
  }
  float* out = nullptr;
  REQUIRE(cudaMalloc(&out, 2 * sizeof(float)) == cudaSuccess);
  srgan::emu::selftest::launch_conflicting_writes(out, 64);
  srgan::emu::selftest::launch_conflicting_writes(out + 1, 64);
  float got[2];
  REQUIRE(cudaMemcpy(got, out, sizeof got, cudaMemcpyDeviceToHost) == cudaSuccess);
  REQUIRE(cudaFree(out) == cudaSuccess);
  INFO("last writers: " << got[0] << " and " << got[1]);
  // One launch forward (block 63 writes last), the other reversed (block 0 writes last); which
  // comes first depends on how many launches this process made before.
  CHECK(std::min(got[0], got[1]) == 0.0f);
  CHECK(std::max(got[0], got[1]) == 63.0f);
}

TEST_CASE("emulator: rsqrtf is off by up to 2 ulp, as the hardware's may be", "[emulator]") {
  int inexact = 0;
  for (int i = 1; i <= 2000; ++i) {
    const float x = 0.37f * float(i);
    const float exact = float(1.0 / std::sqrt(double(x)));
    const float got = rsqrtf(x);
    const double ulp = double(std::nextafter(exact, 1e30f)) - double(exact);
    INFO("x = " << x);
    REQUIRE(std::abs(double(got) - double(exact)) <= 2.0 * ulp * (1 + 1e-6));
    inexact += got != exact;
  }
  CHECK(inexact > 1000);  // most results are moved, so a zero-tolerance test cannot pass here
}

// A kernel fault is sticky, as on a GPU; each case below checks the fault's message and then
// clears it (take_fault_for_selftest), which only the emulator can.
TEST_CASE("emulator: a thread leaving while others wait at __syncthreads fails the launch", "[emulator]") {
  float* out = nullptr;
  REQUIRE(cudaMalloc(&out, 64 * sizeof(float)) == cudaSuccess);
  srgan::emu::selftest::launch_divergent_barrier(out);
  CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure);
  CHECK(cudaGetLastError() == cudaErrorLaunchFailure);
  CHECK(cudaMemset(out, 0, sizeof(float)) == cudaErrorLaunchFailure);  // sticky: later calls fail too
  const std::string why = srgan::emu::take_fault_for_selftest();
  INFO(why);
  CHECK(why.find("divergent_barrier") != std::string::npos);
  CHECK(why.find("__syncthreads") != std::string::npos);
  CHECK(cudaFree(out) == cudaSuccess);
}

TEST_CASE("emulator: a float4 access that is not 16-byte aligned fails the launch, as on a GPU", "[emulator]") {
  float* buf = nullptr;  // (12,): aligned copies use [0, 4) -> [8, 12)
  REQUIRE(cudaMalloc(&buf, 12 * sizeof(float)) == cudaSuccess);
  const float host[4] = {1.f, 2.f, 3.f, 4.f};
  REQUIRE(cudaMemcpy(buf, host, sizeof host, cudaMemcpyHostToDevice) == cudaSuccess);
  SECTION("aligned: copied") {
    srgan::emu::selftest::launch_float4_copy(buf, buf + 8);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    float back[4] = {};
    REQUIRE(cudaMemcpy(back, buf + 8, sizeof back, cudaMemcpyDeviceToHost) == cudaSuccess);
    for (int i = 0; i < 4; ++i) CHECK(back[i] == host[i]);
  }
  SECTION("a misaligned load") {
    srgan::emu::selftest::launch_float4_copy(buf + 1, buf + 8);
    CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure);
    const std::string why = srgan::emu::take_fault_for_selftest();
    INFO(why);
    CHECK(why.find("misaligned float4 load of 16 bytes") != std::string::npos);
  }
  SECTION("a misaligned store") {
    srgan::emu::selftest::launch_float4_copy(buf, buf + 6);
    CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure);
    const std::string why = srgan::emu::take_fault_for_selftest();
    INFO(why);
    CHECK(why.find("misaligned float4 store of 16 bytes") != std::string::npos);
  }
  CHECK(cudaFree(buf) == cudaSuccess);
}

// cvt.rn.bf16x2.f32 d, a, b (PTX ISA): a to the upper half, b to the lower, each rounded to
// bfloat16 (7 fraction bits) to nearest, ties to even. Expected bits worked out by hand.
TEST_CASE("emulator: cvt.rn.bf16x2 rounds to nearest even and puts its first source in the upper half",
          "[emulator]") {
  using srgan::emu::cvt_rn_bf16x2;
  auto lower = [](float v) { return cvt_rn_bf16x2(0.f, v) & 0xffffu; };
  CHECK(cvt_rn_bf16x2(1.0f, -2.5f) == 0x3f80c020u);           // both exact; a upper, b lower
  CHECK(lower(1.0f + 0x1p-8f) == 0x3f80u);                    // halfway to 1 + 2^-7: to even (1.0)
  CHECK(lower(1.0f + 3 * 0x1p-8f) == 0x3f82u);                // halfway between 0x3f81 and 0x3f82: even
  CHECK(lower(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81u);         // past halfway: up
  CHECK(lower(-(1.0f + 0x1p-8f + 0x1p-20f)) == 0xbf81u);      // the same in magnitude for negatives
  CHECK(lower(3.4028235e38f) == 0x7f80u);                     // FLT_MAX rounds past bf16's largest: inf
  CHECK(lower(INFINITY) == 0x7f80u);
  CHECK(lower(-INFINITY) == 0xff80u);
  CHECK(lower(1e-45f) == 0u);                                 // fp32's least subnormal: below half of bf16's
  const uint32_t nan = lower(NAN);
  CHECK((nan & 0x7f80u) == 0x7f80u);                          // NaN stays NaN: all-ones exponent,
  CHECK((nan & 0x007fu) != 0u);                               // a non-zero fraction
}

// Streams are separate queues (emu_runtime_api.cpp, "deferred execution"): work on two streams
// with nothing ordering it runs in the opposite of issue order, so a consumer that forgot to
// wait for its producer on another stream reads stale data; an event wait, or the legacy default
// stream's implicit ordering with blocking streams, makes it right.
TEST_CASE("emulator: streams are separate queues, so a missing cross-stream dependency shows",
          "[emulator][streams]") {
  constexpr size_t n = 64;
  float *a = nullptr, *b = nullptr;
  REQUIRE(cudaMalloc(&a, n * sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMalloc(&b, n * sizeof(float)) == cudaSuccess);
  const std::vector<float> ones(n, 1.f);
  // a = 1 everywhere, b = 1 everywhere; then the producer zeroes a and the consumer copies a to b.
  auto run = [&](cudaStream_t producer, cudaStream_t consumer, cudaEvent_t ev) {
    REQUIRE(cudaMemcpy(a, ones.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaMemcpy(b, ones.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaMemsetAsync(a, 0, n * sizeof(float), producer) == cudaSuccess);
    if (ev) {
      REQUIRE(cudaEventRecord(ev, producer) == cudaSuccess);
      REQUIRE(cudaStreamWaitEvent(consumer, ev, 0) == cudaSuccess);
    }
    REQUIRE(cudaMemcpyAsync(b, a, n * sizeof(float), cudaMemcpyDeviceToDevice, consumer) == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    std::vector<float> got(n);
    REQUIRE(cudaMemcpy(got.data(), b, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    return got[0] == 0.f && got[n - 1] == 0.f;  // true: the copy saw the zeros
  };
  cudaStream_t s1 = nullptr, s2 = nullptr, blocking = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking) == cudaSuccess);
  REQUIRE(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking) == cudaSuccess);
  REQUIRE(cudaStreamCreate(&blocking) == cudaSuccess);
  cudaEvent_t ev = nullptr;
  REQUIRE(cudaEventCreate(&ev) == cudaSuccess);

  CHECK_FALSE(run(s1, s2, nullptr));   // two non-blocking streams, no wait: stale
  CHECK(run(s1, s2, ev));              // the event wait orders them
  CHECK(run(s1, s1, nullptr));         // one stream: in order
  CHECK(run(nullptr, blocking, nullptr));  // legacy default stream, then a blocking stream
  CHECK(run(blocking, nullptr, nullptr));  // and the other way round
  CHECK_FALSE(run(nullptr, s2, nullptr));  // a non-blocking stream does not wait for the legacy one
  CHECK_FALSE(run(s1, blocking, nullptr)); // nor do two created streams wait for each other

  CHECK(cudaEventDestroy(ev) == cudaSuccess);
  CHECK(cudaStreamDestroy(s1) == cudaSuccess);
  CHECK(cudaStreamDestroy(s2) == cudaSuccess);
  CHECK(cudaStreamDestroy(blocking) == cudaSuccess);
  CHECK(cudaFree(a) == cudaSuccess);
  CHECK(cudaFree(b) == cudaSuccess);
}

// wgmma.m64n64k8 (TF32) from unswizzled K-major tiles (PTX ISA, "Shared Memory Matrix Layout"):
// each product reads the upper 19 bits of its operands (truncation), the second wgmma of the
// group adds to the first's accumulators. Expected: the truncated products summed in double
// (exact) and rounded once per wgmma.
TEST_CASE("emulator: wgmma multiplies unswizzled K-major tiles through their descriptors", "[emulator][hopper]") {
  std::vector<float> a(64 * 8), b(64 * 8);
  uint32_t st = 12345u;
  auto next = [&st] {
    st = st * 1664525u + 1013904223u;
    return float(int(st >> 8) - (1 << 23)) / float(1 << 23);
  };
  for (float& v : a) v = next();
  for (float& v : b) v = next();
  auto trunc = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u &= 0xffffe000u;
    std::memcpy(&f, &u, 4);
    return double(f);
  };
  float *da = nullptr, *db = nullptr, *dout = nullptr;
  REQUIRE(cudaMalloc(&da, a.size() * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&db, b.size() * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&dout, 64 * 64 * 4) == cudaSuccess);
  REQUIRE(cudaMemcpy(da, a.data(), a.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(db, b.data(), b.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess);
  srgan::emu::selftest::launch_wgmma_tile(da, db, dout);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  std::vector<float> out(64 * 64);
  REQUIRE(cudaMemcpy(out.data(), dout, out.size() * 4, cudaMemcpyDeviceToHost) == cudaSuccess);
  int wrong = 0;
  for (int m = 0; m < 64; ++m)
    for (int n = 0; n < 64; ++n) {
      double s = 0;
      for (int k = 0; k < 8; ++k) s += trunc(a[m * 8 + k]) * trunc(b[n * 8 + k]);
      const float once = float(s), twice = float(double(once) + s);
      wrong += out[size_t(m) * 64 + n] != twice;
    }
  CHECK(wrong == 0);
  CHECK(cudaFree(da) == cudaSuccess);
  CHECK(cudaFree(db) == cudaSuccess);
  CHECK(cudaFree(dout) == cudaSuccess);
}

// cp.async.bulk.tensor.4d: the box lands at the mbarrier wait (before, it reads as NaN), dimension 0
// innermost, zeros where it leaves the tensor (a negative column, rows past the bottom).
TEST_CASE("emulator: the bulk tensor copy lands its box at the mbarrier wait, zeros outside the tensor",
          "[emulator][hopper]") {
  const int H = 7, W = 9;
  std::vector<float> x(size_t(H) * W * 8);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i + 1);
  float *dx = nullptr, *dout = nullptr;
  REQUIRE(cudaMalloc(&dx, x.size() * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&dout, 121 * 4) == cudaSuccess);
  REQUIRE(cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess);
  const int c = 4, xc = -2, yc = H - 3;  // channels 4..7, columns -2..3, rows 4..8
  REQUIRE(srgan::emu::selftest::launch_tma_box(dx, H, W, c, xc, yc, dout));
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  std::vector<float> out(121);
  REQUIRE(cudaMemcpy(out.data(), dout, out.size() * 4, cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(std::isnan(out[0]));
  int wrong = 0, zeros = 0;
  for (int r = 0; r < 5; ++r)
    for (int q = 0; q < 6; ++q)
      for (int e = 0; e < 4; ++e) {
        const int y = yc + r, xx = xc + q;
        const bool inside = y >= 0 && y < H && xx >= 0 && xx < W;
        const float want = inside ? x[(size_t(y) * W + xx) * 8 + c + e] : 0.f;
        zeros += !inside;
        wrong += out[1 + size_t((r * 6 + q) * 4 + e)] != want;
      }
  CHECK(wrong == 0);
  CHECK(zeros == 4 * (5 * 6 - 3 * 4));  // rows 4..6 x columns 0..3 inside
  CHECK(cudaFree(dx) == cudaSuccess);
  CHECK(cudaFree(dout) == cudaSuccess);
}

TEST_CASE("emulator: an mbarrier wait that no arrival can complete fails the launch", "[emulator][hopper]") {
  float* out = nullptr;
  REQUIRE(cudaMalloc(&out, 32 * sizeof(float)) == cudaSuccess);
  srgan::emu::selftest::launch_mbarrier_short(out);
  CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure);
  const std::string why = srgan::emu::take_fault_for_selftest();
  INFO(why);
  CHECK(why.find("would wait forever") != std::string::npos);
  CHECK(why.find("1 arrivals") != std::string::npos);
  CHECK(cudaFree(out) == cudaSuccess);
}
