// Self-tests of the CUDA emulator's counters (emu_counters.h) on kernels with known answers
// (selftest/selftest_kernels.cu): sectors per request of coalesced, strided and float4 loads;
// bank wavefronts of conflicting, broadcast and ldmatrix accesses (and ldmatrix's fragment
// layout, from the PTX ISA); requests under divergence; barriers and mma per warp; block sampling
// against a full count; the dynamic shared-memory limit. Built only where the kernels are
// instrumented (not in an AddressSanitizer build).
#ifdef SRGAN_EMU_COUNTERS
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/conv2d.h"
#include "tests/cuda_emu/emu_counters.h"
#include "tests/cuda_emu/emu_internal.h"
#include "tests/cuda_emu/selftest/selftest_kernels.h"
#include "tests/test_common.h"

namespace {

using srgan::emu::LaunchCounts;
using srgan::emu::MemKind;
namespace st = srgan::emu::selftest;

std::vector<LaunchCounts> count(const std::function<void()>& f, int64_t max_blocks = 0) {
  srgan::emu::CountOptions o;
  o.max_blocks = max_blocks;
  srgan::emu::counters_begin(o);
  f();
  auto r = srgan::emu::counters_end();
  REQUIRE(cudaGetLastError() == cudaSuccess);
  return r;
}

LaunchCounts count_one(const std::function<void()>& f) {
  auto r = count(f);
  REQUIRE(r.size() == 1);
  return r[0];
}

struct DeviceBuf {
  float* p = nullptr;
  explicit DeviceBuf(size_t n) { REQUIRE(cudaMalloc(&p, n * sizeof(float)) == cudaSuccess); }
  ~DeviceBuf() { cudaFree(p); }
};

}  // namespace

TEST_CASE("counters: sectors per request of coalesced, strided and float4 global accesses", "[emulator][counters]") {
  DeviceBuf in(32 * 32 * 4), out(128);
  REQUIRE(cudaMemset(in.p, 0, 32 * 32 * 4 * sizeof(float)) == cudaSuccess);
  for (int stride : {1, 2, 32}) {
    INFO("stride " << stride);
    const LaunchCounts c = count_one([&] { st::launch_strided_load(in.p, out.p, stride); });
    CHECK(c[MemKind::global_load].requests == 1);
    CHECK(c[MemKind::global_load].lanes == 32);
    // 32 floats 4*stride bytes apart: 128 bytes = 4 sectors when contiguous, one sector per
    // lane from a stride of 8 floats on.
    CHECK(c[MemKind::global_load].sectors == (stride == 1 ? 4 : stride == 2 ? 8 : 32));
    CHECK(c[MemKind::global_load].unique_bytes == 128);
    CHECK(c[MemKind::global_store].requests == 1);
    CHECK(c[MemKind::global_store].sectors == 4);
  }
  const LaunchCounts v = count_one([&] { st::launch_float4_load(in.p, out.p); });
  CHECK(v[MemKind::global_load].requests == 1);  // one 16-byte load per lane
  CHECK(v[MemKind::global_load].bytes == 512);
  CHECK(v[MemKind::global_load].sectors == 16);
  CHECK(v[MemKind::global_store].sectors == 16);
}

TEST_CASE("counters: shared-memory wavefronts of a 32-way conflict, a 2-way conflict and a broadcast",
          "[emulator][counters]") {
  DeviceBuf out(32);
  for (auto [stride, wavefronts] : {std::pair{32, 32}, {2, 2}, {1, 1}, {0, 1}}) {
    INFO("stride " << stride);
    const LaunchCounts c = count_one([&] { st::launch_shared_stride(out.p, stride); });
    CHECK(c[MemKind::shared_load].requests == 1);
    CHECK(c[MemKind::shared_load].wavefronts == wavefronts);
    CHECK(c[MemKind::shared_load].ideal_wavefronts == 1);
    // The fill: 32 stores of 32 consecutive words, conflict-free.
    CHECK(c[MemKind::shared_store].requests == 32);
    CHECK(c[MemKind::shared_store].wavefronts == 32);
    CHECK(c.barriers == 1);
  }
}

TEST_CASE("counters: lanes that branch around a load drop out of its request", "[emulator][counters]") {
  DeviceBuf in(128), out(32);
  REQUIRE(cudaMemset(in.p, 0, 128 * sizeof(float)) == cudaSuccess);
  const LaunchCounts c = count_one([&] { st::launch_divergent_loads(in.p, out.p); });
  // The `if`: 16 lanes; the loop's three iterations: 24, 16 and 8 lanes.
  CHECK(c[MemKind::global_load].requests == 4);
  CHECK(c[MemKind::global_load].lanes == 16 + 24 + 16 + 8);
  CHECK(c[MemKind::global_store].requests == 1);
}

TEST_CASE("counters: ldmatrix delivers the PTX ISA's fragments and costs one wavefront per matrix when rows "
          "do not share banks", "[emulator][counters][ldmatrix]") {
  DeviceBuf out(128);
  for (int pad : {0, 4}) {
    INFO("row padding " << pad << " floats");
    const LaunchCounts c = count_one([&] { st::launch_ldmatrix_tile(out.p, pad); });
    std::vector<uint32_t> h(128);
    REQUIRE(cudaMemcpy(h.data(), out.p, 512, cudaMemcpyDeviceToHost) == cudaSuccess);
    for (int l = 0; l < 32; ++l)
      for (int i = 0; i < 4; ++i) {
        // Lane l, matrix i: word l % 4 of row l / 4 of matrix i = tile row 8i + l/4, column l%4,
        // which holds float((8i + l/4) * 4 + l % 4).
        const float want = float((8 * i + l / 4) * 4 + l % 4);
        uint32_t bits;
        std::memcpy(&bits, &want, 4);
        INFO("lane " << l << " matrix " << i);
        CHECK(h[size_t(l * 4 + i)] == bits);
      }
    CHECK(c.ldmatrix == 1);
    CHECK(c[MemKind::ldsm].requests == 1);
    CHECK(c[MemKind::ldsm].ideal_wavefronts == 4);
    // pad 0: each matrix's 8 rows are 128 contiguous bytes. pad 4: rows 32 bytes apart, rows j
    // and j + 4 of a matrix share banks, 2 wavefronts per matrix.
    CHECK(c[MemKind::ldsm].wavefronts == (pad == 0 ? 4 : 8));
  }
}

TEST_CASE("counters: barriers per warp, and a sample of blocks scaled to the grid", "[emulator][counters]") {
  DeviceBuf out(64);
  const LaunchCounts all = count_one([&] { st::launch_two_barriers(out.p, 3); });
  CHECK(all.blocks_total == 3);
  CHECK(all.blocks_run == 3);
  CHECK(all.warps_run == 6);
  CHECK(all.barriers == 12);  // 3 blocks x 2 warps x 2
  auto sampled = count([&] { st::launch_two_barriers(out.p, 100); }, 10);
  REQUIRE(sampled.size() == 1);
  CHECK(sampled[0].blocks_run == 10);
  CHECK(sampled[0].scale() == 10);
  CHECK(sampled[0].barriers * sampled[0].scale() == 100 * 2 * 2);
}

TEST_CASE("counters: a TF32 convolution's mma count, and a sampled count against the full one",
          "[emulator][counters]") {
  srgan::kern::Conv2dParams p;
  p.N = 2, p.H = p.W = 16, p.C = 16, p.K = 16, p.R = p.S = 3, p.pad = 1;  // M = 512: 8 blocks of 64 rows
  const size_t nx = size_t(p.N) * p.H * p.W * p.C, nw = size_t(p.K) * 9 * p.C, ny = size_t(p.N) * 256 * p.K;
  DeviceBuf x(nx), w(nw), y(ny);
  auto run = [&] { srgan::kern::conv2d_forward_cuda(p, x.p, w.p, nullptr, y.p, srgan::kern::ConvAlgo::v3_implicit_gemm_tf32, nullptr); };
  const LaunchCounts full = count_one(run);
  // v3: 64x64 block tiles, 4 warps of 32x32, k-steps of 32 (144 / 32 -> 5), 2 x 4 mma per warp
  // per 8 of reduction: 8 blocks x 4 warps x 5 x 4 x 8.
  CHECK(full.blocks_total == 8);
  CHECK(full.hmma == 8 * 4 * 5 * 4 * 8);
  auto s = count(run, 3);
  REQUIRE(s.size() == 1);
  CHECK(s[0].blocks_run == 3);
  CHECK(s[0].hmma * s[0].scale() == full.hmma);  // every block does the same k-steps
  // Sectors differ between blocks only through the image border (padding is zero-filled, not
  // read): within 10% of the full count here.
  const double fs = full[MemKind::ldgsts].sectors, ss = s[0][MemKind::ldgsts].sectors * s[0].scale();
  CHECK(std::fabs(ss - fs) <= 0.10 * fs);
  CHECK(s[0][MemKind::global_store].sectors * s[0].scale() == full[MemKind::global_store].sectors);
}

TEST_CASE("emulator: over 48 KiB of dynamic shared memory needs cudaFuncSetAttribute first", "[emulator]") {
  DeviceBuf out(2);
  st::launch_big_dynamic_smem(out.p, false);
  CHECK(cudaDeviceSynchronize() != cudaSuccess);
  CHECK(srgan::emu::take_fault_for_selftest().find("cudaFuncSetAttribute") != std::string::npos);
  st::launch_big_dynamic_smem(out.p, true);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  float h[2];
  REQUIRE(cudaMemcpy(h, out.p, sizeof h, cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(h[0] == 0.f);
  CHECK(h[1] == float(64 * 1024 / 4 - 1));
}
#endif
