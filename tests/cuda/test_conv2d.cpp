// conv2d on the GPU against the double-precision CPU reference: every ConvAlgo (conv2d.h's
// variant table: v1 to v8 and cuDNN) in forward / backward-data / backward-weight (+ bias
// gradient), over odd shapes that fit no tile and SRGAN's real layers, on fresh random inputs,
// with NaN-poisoned outputs; v4's and v5's own paths; streams, alignment, empty batches, bad
// arguments and determinism. The halo-tile paths (v6, v7) are in test_conv2d_halo.cpp, the fused
// epilogues in test_conv2d_fused.cpp, v8's kernel in test_conv2d_wgmma.cpp.
#include <algorithm>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cuda_context.h"
#include "tests/cuda/conv2d_test_fixtures.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;
using namespace srgan::test::conv;

namespace {

// Odd sizes first (channel counts that break the 16-byte paths, spatial sizes and K that fit no
// 64-wide tile, strides 2 and 3, rectangular kernels), then SRGAN's layers: the generator at
// 24x24 / 48x48 / 96x96 with 64 and 256 channels and its 9x9 convolutions with 3 channels, and
// the discriminator from 96x96 down to 6x6 with stride 2 (batch 1-4 to keep the CPU reference
// quick; batch 16 for the two shapes of the performance goal).
const Shape kShapes[] = {
    {"odd C3 K5", 2, 7, 9, 3, 5, 3, 3, 1, 1},
    {"odd C6 K7 s2", 2, 13, 11, 6, 7, 3, 3, 2, 1},
    {"odd C17 K33 5x5 s2", 1, 9, 10, 17, 33, 5, 5, 2, 2},
    {"1x1", 2, 6, 6, 4, 4, 1, 1, 1, 0},
    {"rect 3x2 s3 pad0", 2, 11, 8, 8, 12, 3, 2, 3, 0},
    {"C20 K70 33x31", 2, 33, 31, 20, 70, 3, 3, 1, 1},
    {"C5 K65", 1, 17, 19, 5, 65, 3, 3, 1, 1},
    {"G head 9x9 3->64 @24", 2, 24, 24, 3, 64, 9, 9, 1, 4},
    {"G body 3x3 64->64 @24 n16", 16, 24, 24, 64, 64, 3, 3, 1, 1},
    {"G up 3x3 64->256 @24", 4, 24, 24, 64, 256, 3, 3, 1, 1},
    {"G up 3x3 64->256 @48", 2, 48, 48, 64, 256, 3, 3, 1, 1},
    {"G tail 9x9 64->3 @96", 1, 96, 96, 64, 3, 9, 9, 1, 4},
    {"conv3x3 64->64 @96 n16", 16, 96, 96, 64, 64, 3, 3, 1, 1},
    {"D 3->64 @96", 2, 96, 96, 3, 64, 3, 3, 1, 1},
    {"D 64->64 s2 @96", 2, 96, 96, 64, 64, 3, 3, 2, 1},
    {"D 64->128 @48", 2, 48, 48, 64, 128, 3, 3, 1, 1},
    {"D 128->128 s2 @48", 2, 48, 48, 128, 128, 3, 3, 2, 1},
    {"D 128->256 @24", 2, 24, 24, 128, 256, 3, 3, 1, 1},
    {"D 256->256 s2 @24", 2, 24, 24, 256, 256, 3, 3, 2, 1},
    {"D 256->512 @12", 2, 12, 12, 256, 512, 3, 3, 1, 1},
    {"D 512->512 s2 @12", 2, 12, 12, 512, 512, 3, 3, 2, 1},
};

}  // namespace

TEST_CASE("conv2d CUDA variants match the CPU reference", "[cuda][conv2d]") {
  uint64_t seed = 1000;
  for (Shape s : kShapes) {
    if (!fit_to_machine(s)) continue;
    Data d = make(s, seed);
    seed += 10;
    const Conv2dParams& p = d.p;
    INFO(describe(s));
    DevBuf x(d.x), w(d.w), b(d.b), dy(d.dy);
    DevBuf y(d.ny), dx(d.nx), dw(d.nw), db(size_t(p.K));
    const double k_fwd = double(p.R) * p.S * p.C;
    const double k_data = double(p.R) * p.S * p.K;
    const double k_wgt = double(p.N) * p.P() * p.Q();
    for (ConvAlgo a : kAlgos) {
      INFO("algo " << conv_algo_name(a));
      y.poison();
      conv2d_forward_cuda(p, x, w, b, y, a, nullptr);
      SRGAN_CHECK_CLOSE(compare(y.download(), d.y_ref, tol_for(a, k_fwd)));

      dx.poison();
      conv2d_backward_data_cuda(p, dy, w, dx, a, nullptr);
      SRGAN_CHECK_CLOSE(compare(dx.download(), d.dx_ref, tol_for(a, k_data)));

      dw.poison();
      db.poison();
      conv2d_backward_weight_cuda(p, x, dy, dw, db, a, nullptr);
      SRGAN_CHECK_CLOSE(compare(dw.download(), d.dw_ref, tol_for(a, k_wgt)));
      // db is a column sum of dy in fp32 (cuDNN's own reduction for the baseline).
      SRGAN_CHECK_CLOSE(compare(db.download(), d.db_ref, tol_fp32(k_wgt)));

      // Without a bias gradient (db == nullptr) dw must not change.
      dw.poison();
      conv2d_backward_weight_cuda(p, x, dy, dw, nullptr, a, nullptr);
      SRGAN_CHECK_CLOSE(compare(dw.download(), d.dw_ref, tol_for(a, k_wgt)));
    }
  }
}

// v4's own paths on shapes small enough for the emulator: both tiles (128x64 for K <= 64, 128x128
// above; backward-weight 64- and 128-row tiles), partial row and column tiles, stride 2, a 5x5
// filter, a reduction that ends inside a k-step (C = 36), channels that wrap inside a step,
// images narrower than a k-step of pixels (several row wraps per step), and split-K (a 4x4
// image with 256 channels: 1 row tile, 16 splits forward, 5 backward), and the narrow-N forward
// (K <= 4, fp32); each pass against the double reference, twice (the same bits both times:
// split-K is reduced in a fixed order).
TEST_CASE("conv2d v4: tiles, edges, strides and split-K against the reference", "[cuda][conv2d][v4]") {
  const Shape shapes[] = {
      {"v4 128x64 edges", 1, 13, 13, 32, 48, 3, 3, 1, 1},
      {"v4 128x128 s2", 2, 9, 9, 64, 96, 3, 3, 2, 1},
      {"v4 split-K", 1, 4, 4, 256, 64, 3, 3, 1, 1},
      {"v4 5x5 C36 tail", 1, 10, 10, 36, 40, 5, 5, 1, 2},
      {"v4 wgrad K128 s2", 2, 11, 11, 32, 128, 3, 3, 2, 1},
      {"v4 narrow-N 9x9 16->3", 2, 19, 37, 16, 3, 9, 9, 1, 4},  // blocks past both edges
      {"v4 narrow-N 5x5 8->1", 1, 7, 9, 8, 1, 5, 5, 1, 2},
      {"v4 narrow-N wgrad rows over 256 pixels", 1, 3, 300, 4, 2, 3, 3, 1, 1},  // chunks of one row's pixels
      {"v4 narrow-N wgrad s2", 2, 9, 11, 4, 3, 3, 3, 2, 1},
  };
  const ConvAlgo a = ConvAlgo::v4_implicit_gemm_tf32_multistage;
  uint64_t seed = 5000;
  for (const Shape& sh : shapes) {
    INFO(describe(sh));
    Data d = make(sh, seed += 10);
    const Conv2dParams& p = d.p;
    DevBuf x(d.x), w(d.w), b(d.b), dy(d.dy), y(d.ny), dx(d.nx), dw(d.nw), db(size_t(p.K));
    std::vector<float> first_y, first_dx, first_dw;
    for (int run = 0; run < 2; ++run) {
      y.poison();
      conv2d_forward_cuda(p, x, w, b, y, a, nullptr);
      const auto gy = y.download();
      SRGAN_CHECK_CLOSE(compare(gy, d.y_ref, tol_for(a, double(p.R) * p.S * p.C)));
      dx.poison();
      conv2d_backward_data_cuda(p, dy, w, dx, a, nullptr);
      const auto gdx = dx.download();
      SRGAN_CHECK_CLOSE(compare(gdx, d.dx_ref, tol_for(a, double(p.R) * p.S * p.K)));
      dw.poison();
      db.poison();
      conv2d_backward_weight_cuda(p, x, dy, dw, db, a, nullptr);
      const auto gdw = dw.download();
      SRGAN_CHECK_CLOSE(compare(gdw, d.dw_ref, tol_for(a, double(p.N) * p.P() * p.Q())));
      SRGAN_CHECK_CLOSE(compare(db.download(), d.db_ref, tol_fp32(double(p.N) * p.P() * p.Q())));
      if (run == 0) first_y = gy, first_dx = gdx, first_dw = gdw;
      else CHECK((gy == first_y && gdx == first_dx && gdw == first_dw));
    }
  }
}

// Strided backward-data in v4 runs as stride^2 stride-1 phases (conv2d_strided_dgrad_cuda.cuh):
// each phase's own taps, dy offset and pixel grid. Odd and even sides (phases of different
// sizes), filters wider than the stride by 1, 2 or 3 taps, stride 3 (nine phases of one tap in
// each direction), a split-K phase (K = 256 over 4 x 4 pixels), and a 1x1 stride-2 layer whose
// odd phases have no tap (v3 runs it). Each against the double reference, twice with the same
// bits, and (where v4 applies) not v3's bits (v3 rounds to TF32 where v4 truncates), so a
// fallback would show.
TEST_CASE("conv2d v4 strided backward-data: every phase against the reference", "[cuda][conv2d][v4]") {
  struct Case {
    Shape s;
    bool v4;
  };
  const Case cases[] = {
      {{"3x3 s2 odd sides", 2, 9, 10, 8, 32, 3, 3, 2, 1}, true},
      {{"5x5 s2 pad 2", 1, 11, 8, 4, 36, 5, 5, 2, 2}, true},
      {{"4x4 s2 pad 1", 1, 8, 9, 8, 32, 4, 4, 2, 1}, true},
      {{"3x3 s3 nine phases", 1, 10, 11, 4, 32, 3, 3, 3, 1}, true},
      {{"3x3 s2 split-K", 1, 8, 8, 8, 256, 3, 3, 2, 1}, true},
      {{"1x1 s2 (v3: phases without taps)", 1, 7, 7, 8, 32, 1, 1, 2, 0}, false},
  };
  const ConvAlgo a = ConvAlgo::v4_implicit_gemm_tf32_multistage;
  uint64_t seed = 7100;
  for (const Case& c : cases) {
    Shape sh = c.s;
    if (!fit_to_machine(sh)) continue;
    INFO(describe(sh));
    Data d = make(sh, seed += 10);
    const Conv2dParams& p = d.p;
    DevBuf w(d.w), dy(d.dy), dx(d.nx);
    std::vector<float> first;
    for (int run = 0; run < 2; ++run) {
      dx.poison();
      conv2d_backward_data_cuda(p, dy, w, dx, a, nullptr);
      const auto got = dx.download();
      SRGAN_CHECK_CLOSE(compare(got, d.dx_ref, tol_for(a, double(p.R) * p.S * p.K)));
      if (run == 0) first = got;
      else CHECK(got == first);
    }
    dx.poison();
    conv2d_backward_data_cuda(p, dy, w, dx, ConvAlgo::v3_implicit_gemm_tf32, nullptr);
    CHECK((dx.download() != first) == c.v4);
  }
}


// v5 is v4's engine with BF16 operands: on the shapes where v4's tile paths run (forward,
// stride-1 and strided backward-data, backward-weight; both tiles, split-K, a reduction ending
// inside a k-step) every input is rounded to bfloat16 (to nearest even) and the products are
// summed in fp32. So against the double reference of the bf16-rounded inputs only the fp32
// summation differs (the fp32 bound), while against the unrounded inputs' reference it is
// within the BF16 bound but not the fp32 one (the rounding happened: a TF32 or fp32 path would
// miss the first check, a wrongly packed fragment both). Twice, the same bits.
TEST_CASE("conv2d v5: v4's paths with BF16 operands against the BF16-rounded reference", "[cuda][conv2d][v5]") {
  const Shape shapes[] = {
      {"v5 128x64 edges", 1, 13, 13, 32, 48, 3, 3, 1, 1},
      {"v5 128x128 s2 (strided backward-data)", 2, 9, 9, 64, 96, 3, 3, 2, 1},
      {"v5 split-K", 1, 4, 4, 256, 64, 3, 3, 1, 1},
      {"v5 5x5 C36 tail", 1, 10, 10, 36, 40, 5, 5, 1, 2},
      {"v5 wgrad K128 s2", 2, 11, 11, 32, 128, 3, 3, 2, 1},
  };
  const ConvAlgo a = ConvAlgo::v5_implicit_gemm_bf16_multistage;
  uint64_t seed = 8100;
  for (const Shape& sh : shapes) {
    INFO(describe(sh));
    Data d = make(sh, seed += 10);
    const Conv2dParams& p = d.p;
    const auto xr = rounded_bf16(d.x), wr = rounded_bf16(d.w), dyr = rounded_bf16(d.dy);
    const auto b = to_double(d.b);
    std::vector<double> y_r(d.ny), dx_r(d.nx), dw_r(d.nw), db_r(size_t(p.K));
    conv2d_forward_cpu_ref(p, xr.data(), wr.data(), b.data(), y_r.data());
    conv2d_backward_data_cpu_ref(p, dyr.data(), wr.data(), dx_r.data());
    conv2d_backward_weight_cpu_ref(p, xr.data(), dyr.data(), dw_r.data(), db_r.data());
    const double k_fwd = double(p.R) * p.S * p.C, k_data = double(p.R) * p.S * p.K, k_wgt = double(p.N) * p.P() * p.Q();

    DevBuf x(d.x), w(d.w), bias(d.b), dy(d.dy), y(d.ny), dx(d.nx), dw(d.nw), db(size_t(p.K));
    PassBufs bufs{p, x, w, bias, dy, y, dx, dw, db};
    std::vector<float> first_y, first_dx, first_dw;
    for (int run = 0; run < 2; ++run) {
      const auto r = bufs.run(a);
      const auto &gy = r[0], &gdx = r[1], &gdw = r[2];
      SRGAN_CHECK_CLOSE(compare(gy, y_r, tol_fp32(k_fwd)));
      SRGAN_CHECK_CLOSE(compare(gdx, dx_r, tol_fp32(k_data)));
      SRGAN_CHECK_CLOSE(compare(gdw, dw_r, tol_fp32(k_wgt)));
      SRGAN_CHECK_CLOSE(compare(gy, d.y_ref, tol_bf16(k_fwd)));
      SRGAN_CHECK_CLOSE(compare(gdx, d.dx_ref, tol_bf16(k_data)));
      SRGAN_CHECK_CLOSE(compare(gdw, d.dw_ref, tol_bf16(k_wgt)));
      CHECK_FALSE(compare(gy, d.y_ref, tol_fp32(k_fwd)).ok);
      CHECK_FALSE(compare(gdx, d.dx_ref, tol_fp32(k_data)).ok);
      CHECK_FALSE(compare(gdw, d.dw_ref, tol_fp32(k_wgt)).ok);
      SRGAN_CHECK_CLOSE(compare(db.download(), d.db_ref, tol_fp32(k_wgt)));  // a column sum of dy, fp32
      if (run == 0) first_y = gy, first_dx = gdx, first_dw = gdw;
      else CHECK((gy == first_y && gdx == first_dx && gdw == first_dw));
    }
  }
}

// The workspace (split-K partials here) is shared by every call of a thread; handed from one
// stream to another, the second waits for the first's queued work (kernels/cuda_context.h). Two
// split-K convolutions on two non-blocking streams, each against its own reference: in the
// emulator, which runs unordered streams interleaved, the second would otherwise overwrite the
// first's partial sums before its reduction reads them.
TEST_CASE("conv2d on two streams shares the workspace safely", "[cuda][conv2d][streams]") {
  const Shape sh{"v4 split-K", 1, 4, 4, 256, 64, 3, 3, 1, 1};
  const ConvAlgo a = ConvAlgo::v4_implicit_gemm_tf32_multistage;
  Data d1 = make(sh, 9100), d2 = make(sh, 9200);
  const Conv2dParams& p = d1.p;
  DevBuf x1(d1.x), x2(d2.x), w(d1.w), b(d1.b), y1(d1.ny), y2(d1.ny);
  std::vector<double> ref2(d1.ny);
  const auto x2d = to_double(d2.x), wd = to_double(d1.w), bd = to_double(d1.b);
  conv2d_forward_cpu_ref(p, x2d.data(), wd.data(), bd.data(), ref2.data());  // x2 with d1's weights
  cudaStream_t s1 = nullptr, s2 = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking) == cudaSuccess);
  REQUIRE(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking) == cudaSuccess);
  y1.poison();
  y2.poison();
  conv2d_forward_cuda(p, x1, w, b, y1, a, s1);
  conv2d_forward_cuda(p, x2, w, b, y2, a, s2);
  SRGAN_CHECK_CLOSE(compare(y1.download(), d1.y_ref, tol_for(a, double(p.R) * p.S * p.C)));
  SRGAN_CHECK_CLOSE(compare(y2.download(), ref2, tol_for(a, double(p.R) * p.S * p.C)));
  for (cudaStream_t s : {s1, s2}) {
    cuda::forget_stream(s);  // the rule for a stream that may have been the workspace's last user
    CHECK(cudaStreamDestroy(s) == cudaSuccess);
  }
}

TEST_CASE("conv2d forward without bias", "[cuda][conv2d]") {
  const Shape s{"no bias", 2, 10, 9, 8, 12, 3, 3, 1, 1};
  Data d = make(s, 77);
  const Conv2dParams& p = d.p;
  std::vector<double> ref(d.ny);
  const auto x = to_double(d.x), w = to_double(d.w);
  conv2d_forward_cpu_ref<double>(p, x.data(), w.data(), nullptr, ref.data());
  DevBuf xd(d.x), wd(d.w), y(d.ny);
  for (ConvAlgo a : kAlgos) {
    INFO("algo " << conv_algo_name(a));
    y.poison();
    conv2d_forward_cuda(p, xd, wd, nullptr, y, a, nullptr);
    SRGAN_CHECK_CLOSE(compare(y.download(), ref, tol_for(a, double(p.R) * p.S * p.C)));
  }
}

TEST_CASE("conv2d with 16-byte-misaligned pointers takes the scalar path", "[cuda][conv2d]") {
  // The views start one float into their allocations, so every vectorised copy is ruled out.
  const Shape s{"misaligned", 2, 12, 12, 16, 32, 3, 3, 1, 1};
  Data d = make(s, 91);
  const Conv2dParams& p = d.p;
  DevBuf x(shifted_by_one(d.x)), w(shifted_by_one(d.w)), b(d.b), dy(shifted_by_one(d.dy));
  DevBuf y(d.ny + 1), dx(d.nx + 1), dw(d.nw + 1), db(size_t(p.K));
  auto tail = [](const std::vector<float>& v) { return std::vector<float>(v.begin() + 1, v.end()); };
  for (ConvAlgo a : ours()) {
    INFO("algo " << conv_algo_name(a));
    y.poison();
    conv2d_forward_cuda(p, x.get() + 1, w.get() + 1, b, y.get() + 1, a, nullptr);
    SRGAN_CHECK_CLOSE(compare(tail(y.download()), d.y_ref, tol_for(a, double(p.R) * p.S * p.C)));
    dx.poison();
    conv2d_backward_data_cuda(p, dy.get() + 1, w.get() + 1, dx.get() + 1, a, nullptr);
    SRGAN_CHECK_CLOSE(compare(tail(dx.download()), d.dx_ref, tol_for(a, double(p.R) * p.S * p.K)));
    dw.poison();
    db.poison();
    conv2d_backward_weight_cuda(p, x.get() + 1, dy.get() + 1, dw.get() + 1, db, a, nullptr);
    SRGAN_CHECK_CLOSE(compare(tail(dw.download()), d.dw_ref, tol_for(a, double(p.N) * p.P() * p.Q())));
  }
}

// An empty batch (N = 0) is a valid shape: nothing to compute, and the weight and bias gradients
// are sums over no pixels, so zeros. Every v6 path's shape, and v4's, each pass (a grid with no
// images would be an invalid launch).
TEST_CASE("conv2d with an empty batch gives zero weight gradients on every path", "[cuda][conv2d][v6]") {
  const Shape shapes[] = {
      {"halo 3x3 C64 K64", 0, 8, 8, 64, 64, 3, 3, 1, 1},   {"tail 9x9 C64 K3", 0, 8, 8, 64, 3, 9, 9, 1, 4},
      {"head 9x9 C3 K64", 0, 8, 8, 3, 64, 9, 9, 1, 4},     {"D's first 3x3 C3 K64", 0, 8, 8, 3, 64, 3, 3, 1, 1},
      {"v4 3x3 C128 K128", 0, 8, 8, 128, 128, 3, 3, 1, 1},
  };
  for (const Shape& sh : shapes) {
    for (const ConvAlgo a : {ConvAlgo::v4_implicit_gemm_tf32_multistage, ConvAlgo::v6_halo_tile_tf32}) {
      INFO(sh.what << " " << conv_algo_name(a));
      Conv2dParams p;
      p.N = sh.N, p.H = sh.H, p.W = sh.W, p.C = sh.C, p.K = sh.K, p.R = sh.R, p.S = sh.S, p.stride = sh.stride,
      p.pad = sh.pad;
      const size_t nw = size_t(p.K) * p.R * p.S * p.C;
      DevBuf x(size_t(1)), dy(size_t(1)), w(std::vector<float>(nw, 0.5f)), b(size_t(p.K)), y(size_t(1)),
          dx(size_t(1)), dw(nw), db(size_t(p.K));
      conv2d_forward_cuda(p, x, w, b, y, a, nullptr);
      conv2d_backward_data_cuda(p, dy, w, dx, a, nullptr);
      dw.poison();
      db.poison();
      conv2d_backward_weight_cuda(p, x, dy, dw, db, a, nullptr);
      CHECK(dw.download() == std::vector<float>(nw, 0.f));
      CHECK(db.download() == std::vector<float>(size_t(p.K), 0.f));
    }
  }
}

TEST_CASE("conv2d rejects invalid shapes and algorithms", "[cuda][conv2d]") {
  Conv2dParams p;
  p.N = 1; p.H = 2; p.W = 2; p.C = 1; p.K = 1; p.R = 3; p.S = 3; p.stride = 1; p.pad = 0;  // P = 0
  REQUIRE_THROWS(conv2d_forward_cuda(p, nullptr, nullptr, nullptr, nullptr, ConvAlgo::v1_direct, nullptr));
  p.pad = 1;
  REQUIRE_THROWS(conv2d_forward_cuda(p, nullptr, nullptr, nullptr, nullptr, ConvAlgo(42), nullptr));
}

TEST_CASE("conv2d is deterministic run to run", "[cuda][conv2d]") {
  if (small_only()) return;
  // Split-K backward-weight and the bias reduction add partial sums in a fixed order.
  const Shape s{"D 64->64 s2 @96", 2, 96, 96, 64, 64, 3, 3, 2, 1};
  Data d = make(s, 4242);
  const Conv2dParams& p = d.p;
  DevBuf x(d.x), dy(d.dy), dw(d.nw), db(size_t(p.K));
  for (ConvAlgo a : ours()) {
    INFO("algo " << conv_algo_name(a));
    conv2d_backward_weight_cuda(p, x, dy, dw, db, a, nullptr);
    const auto dw1 = dw.download(), db1 = db.download();
    dw.poison();
    db.poison();
    conv2d_backward_weight_cuda(p, x, dy, dw, db, a, nullptr);
    SRGAN_CHECK_CLOSE(bitwise_equal(dw.download(), dw1));
    SRGAN_CHECK_CLOSE(bitwise_equal(db.download(), db1));
  }
}

// A model's parameters sit back to back in one arena (core/param_arena.h), so a convolution's
// weights are rarely 16-byte aligned while its activations are. v4 and v6 must still run (not fall back
// to v3): the forward copies such weights to the workspace, backward-data reads its transposed
// copy. The results must equal v4's with aligned weights bit for bit (v3 rounds to TF32 where
// v4 truncates, so a fallback would show) and the reference within tolerance.
TEST_CASE("conv2d v4 and v6 with weights off 16-byte alignment stay on their path", "[cuda][conv2d][v4][v6]") {
  const Shape s{"arena weights", 2, 10, 10, 32, 32, 3, 3, 1, 1};
  Data d = make(s, 93);
  const Conv2dParams& p = d.p;
  DevBuf x(d.x), w(d.w), w1(shifted_by_one(d.w)), b(d.b), dy(d.dy), y(d.ny), dx(d.nx);
  for (const ConvAlgo a : {ConvAlgo::v4_implicit_gemm_tf32_multistage, ConvAlgo::v6_halo_tile_tf32}) {
    INFO(conv_algo_name(a));
    y.poison();
    conv2d_forward_cuda(p, x, w, b, y, a, nullptr);
    const auto y_aligned = y.download();
    y.poison();
    conv2d_forward_cuda(p, x, w1.get() + 1, b, y, a, nullptr);
    const auto y_shifted = y.download();
    SRGAN_CHECK_CLOSE(compare(y_shifted, d.y_ref, tol_for(a, double(p.R) * p.S * p.C)));
    CHECK(y_shifted == y_aligned);
    dx.poison();
    conv2d_backward_data_cuda(p, dy, w, dx, a, nullptr);
    const auto dx_aligned = dx.download();
    dx.poison();
    conv2d_backward_data_cuda(p, dy, w1.get() + 1, dx, a, nullptr);
    const auto dx_shifted = dx.download();
    SRGAN_CHECK_CLOSE(compare(dx_shifted, d.dx_ref, tol_for(a, double(p.R) * p.S * p.K)));
    CHECK(dx_shifted == dx_aligned);
    // And v3 on the same input gives other bits (so the equality above can tell the paths apart).
    y.poison();
    conv2d_forward_cuda(p, x, w, b, y, ConvAlgo::v3_implicit_gemm_tf32, nullptr);
    CHECK(y.download() != y_aligned);
  }
}
