// conv2d's halo-tile paths on the GPU against the double-precision CPU reference: v6 (TF32) and
// v7 (BF16) where the halo tile, its streamed-filter form and its weight gradient run and v4 / v5
// where they do not (the bits tell which ran); the 9x9 tail, the 3-channel head and their
// weight gradients; non-finite inputs in the narrow-C path; weights off 16-byte alignment.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "kernels/conv2d.h"
#include "tests/cuda/conv2d_test_fixtures.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;
using namespace srgan::test::conv;

namespace {
// The halo tile (v6, v7: 3x3 stride 1, 32 or 64 gathered channels) on shapes that reach its
// edges: tiles cut by the image's right and bottom sides, output channels that fill 1, 2 and 3
// 64-wide slices partly, pads 0 and 2 besides 1, and 140 one-tile images, more tiles than the
// persistent grid's blocks (2 tiles per block: the pipeline runs across a tile's end and an
// image's). The halo weight gradient (conv2d_halo_wgrad_cuda.cuh: C = 64, pad 1, W % 8 == 0):
// units of 4 x 24 pixels cut at the bottom (10 rows) and at the side (40 = 24 + 16 columns), two
// images; 140 images of 4 x 8 (2 units a block, across images); two 64-channel slices of dy over
// 16 columns. The halo tile with streamed filters (128+ gathered channels, 16+ outputs): one
// 256-pixel tile over 3 images of 5 x 7 with the chunks split 4 ways, a 16-channel second
// slice; two tiles, the second cut, 3 slices, pad 2 forward (0 backward-data); a tile meeting
// 2 images of 3 x 48 (10 rows of 50 halo pixels); backward-data into 32 channels.
struct PathCase {
  Shape sh;
  bool fwd, data, wgrad;  // which passes the paths under test run themselves
};
const PathCase kHaloCases[] = {
    {{"halo C64 K64 partial tiles", 1, 19, 21, 64, 64, 3, 3, 1, 1}, true, true, false},  // W % 8 != 0
    {{"halo C32 K32 pad 0", 2, 18, 17, 32, 32, 3, 3, 1, 0}, true, true, false},
    {{"halo C64 K130 pad 2 (3 slices)", 1, 7, 9, 64, 130, 3, 3, 1, 2}, true, false, false},  // data gathers 130
    {{"halo C24 K64 (backward-data only)", 1, 17, 16, 24, 64, 3, 3, 1, 1}, false, true, false},
    {{"halo 140 images, 2 tiles a block", 140, 4, 4, 32, 32, 3, 3, 1, 1}, true, true, false},
    {{"halo C64 K8 (forward to v4: under 16 outputs)", 1, 8, 8, 64, 8, 3, 3, 1, 1}, false, false, false},
    {{"halo stream C128 K80: 3 images of 5 x 7 in one tile, 4 splits", 3, 5, 7, 128, 80, 3, 3, 1, 1}, true, false, false},
    {{"halo stream C144 K144 pad 2: a tile cut, 3 slices", 2, 11, 13, 144, 144, 3, 3, 1, 2}, true, true, false},
    {{"halo stream C128 K128: 2 images of 3 x 48 in a tile", 2, 3, 48, 128, 128, 3, 3, 1, 1}, true, true, false},
    {{"halo stream K128 into C32 (backward-data)", 1, 9, 10, 32, 128, 3, 3, 1, 1}, true, true, false},
    {{"halo wgrad C64 K64, units cut by both sides", 2, 10, 40, 64, 64, 3, 3, 1, 1}, true, true, true},
    {{"halo wgrad 140 images of 4 x 8, 2 units a block", 140, 4, 8, 64, 64, 3, 3, 1, 1}, true, true, true},
    {{"halo wgrad C64 K128, 2 slices, 16 columns", 1, 6, 16, 64, 128, 3, 3, 1, 1}, true, true, true},
};

// v6 on one case: its three passes against the double reference within the TF32 bound, twice
// with the same bits, and not v4's bits where its own paths run (they sum in another order, so a
// silent fallback to v4 would show); v4's bits where they do not. `then` gets the buffers and
// v6's results for more checks.
void check_v6_paths(const PathCase& c, uint64_t seed,
                    const std::function<void(PassBufs&, const std::vector<std::vector<float>>&)>& then = {}) {
  const ConvAlgo a = ConvAlgo::v6_halo_tile_tf32, v4 = ConvAlgo::v4_implicit_gemm_tf32_multistage;
  INFO(describe(c.sh));
  const Data d = make(c.sh, seed);
  const Conv2dParams& p = d.p;
  DevBuf x(d.x), w(d.w), bias(d.b), dy(d.dy), y(d.ny), dx(d.nx), dw(d.nw), db(size_t(p.K));
  PassBufs bufs{p, x, w, bias, dy, y, dx, dw, db};
  const auto r1 = bufs.run(a), r2 = bufs.run(a), r4 = bufs.run(v4);
  const std::vector<double>* ref[3] = {&d.y_ref, &d.dx_ref, &d.dw_ref};
  const double k[3] = {double(p.R) * p.S * p.C, double(p.R) * p.S * p.K, double(p.N) * p.P() * p.Q()};
  const bool runs[3] = {c.fwd, c.data, c.wgrad};
  for (int pass = 0; pass < 3; ++pass) {
    INFO("pass " << pass << " (forward, backward-data, weight gradient)");
    SRGAN_CHECK_CLOSE(compare(r1[pass], *ref[pass], tol_for(a, k[pass])));
    CHECK((r1[pass] != r4[pass]) == runs[pass]);
  }
  CHECK(r1 == r2);
  if (then) then(bufs, r1);
}
}  // namespace

TEST_CASE("conv2d v6: the halo tile against the reference, and v4 where it does not apply", "[cuda][conv2d][v6]") {
  uint64_t seed = 8600;
  for (const PathCase& c : kHaloCases) check_v6_paths(c, seed += 10);
}

// v7 (v6 with BF16 operands) where the halo tile runs: against the double reference of the
// bf16-rounded inputs with the fp32 bound, against the unrounded one with the BF16 bound and not
// the fp32 one (as v5, above), and not v5's bits; elsewhere v5's bits (its fallback), twice the
// same. The halo weight gradient is TF32 in v7 too: v6's bits.
TEST_CASE("conv2d v7: the halo tile with BF16 operands against the BF16-rounded reference", "[cuda][conv2d][v7]") {
  const ConvAlgo a = ConvAlgo::v7_halo_tile_bf16, v5 = ConvAlgo::v5_implicit_gemm_bf16_multistage;
  uint64_t seed = 8700;
  for (const PathCase& c : kHaloCases) {
    INFO(describe(c.sh));
    Data d = make(c.sh, seed += 10);
    const Conv2dParams& p = d.p;
    const auto xr = rounded_bf16(d.x), wr = rounded_bf16(d.w), dyr = rounded_bf16(d.dy);
    const auto b = to_double(d.b);
    std::vector<double> y_r(d.ny), dx_r(d.nx);
    conv2d_forward_cpu_ref(p, xr.data(), wr.data(), b.data(), y_r.data());
    conv2d_backward_data_cpu_ref(p, dyr.data(), wr.data(), dx_r.data());
    const double k_fwd = double(p.R) * p.S * p.C, k_data = double(p.R) * p.S * p.K;
    DevBuf x(d.x), w(d.w), bias(d.b), dy(d.dy), y(d.ny), dx(d.nx), dw(d.nw), db(size_t(p.K));
    PassBufs bufs{p, x, w, bias, dy, y, dx, dw, db};
    const auto r1 = bufs.run(a), r2 = bufs.run(a), r5 = bufs.run(v5);
    CHECK(r1 == r2);
    CHECK(r1[2] == (c.wgrad ? bufs.run(ConvAlgo::v6_halo_tile_tf32)[2] : r5[2]));
    const bool runs[2] = {c.fwd, c.data};
    const std::vector<double>* rounded[2] = {&y_r, &dx_r};
    const std::vector<double>* exact[2] = {&d.y_ref, &d.dx_ref};
    const double k[2] = {k_fwd, k_data};
    for (int pass = 0; pass < 2; ++pass) {
      INFO((pass == 0 ? "forward" : "backward-data"));
      if (!runs[pass]) {
        CHECK(r1[pass] == r5[pass]);
        continue;
      }
      CHECK(r1[pass] != r5[pass]);
      SRGAN_CHECK_CLOSE(compare(r1[pass], *rounded[pass], tol_fp32(k[pass])));
      SRGAN_CHECK_CLOSE(compare(r1[pass], *exact[pass], tol_bf16(k[pass])));
      CHECK_FALSE(compare(r1[pass], *exact[pass], tol_fp32(k[pass])).ok);
    }
  }
}

namespace {
// v6's tail path (conv2d_tail_halo_cuda.cuh: at most 4 outputs, K * S <= 32, forward): column
// tiles cut by the image's side (56 output columns a block at S = 9), row tiles cut at the
// bottom, pads 0 to 4, 1 to 8 channel chunks, two images; K * S = 36 falls back to v4.
// Its weight gradient (conv2d_tail_wgrad_cuda.cuh, C % 32 == 0): 32-column tiles cut by the
// image's side (70 = 2 x 32 + 6), two images, a 64 + 32 channel split with filter rows short of
// the 9 warps (R = 5) and the output rows in 10 splits of 4 (P = 40).
// v6's narrow-C path (conv2d_narrow_c_cuda.cuh: at most 4 inputs, 64k outputs): the head's
// forward with row and column tiles cut (37 x 35), and 4 channels with 2 output slices; the
// tail's backward-data (dy has K <= 4 channels, dx 64k), also with R != S (3 x 5: its padding
// differs by axis) and 2 slices; C = 16 or 96 falls back. Its weight gradient
// (conv2d_narrow_c_wgrad_cuda.cuh): the head's 243 filter places in 8 warps, the discriminator's
// 3x3 (27 places, 4 output rows at once) with two images over 70 = 2 x 32 + 6 columns and 13 rows
// (a last step short of rows), 5x5 C3 (3 warps of places, 2 rows at once), and 2 output slices.
const PathCase kTailCases[] = {
    {{"tail 9x9 C64 K3 pad 4, two column tiles", 2, 11, 70, 64, 3, 9, 9, 1, 4}, true, true, true},
    {{"tail 5x5 C16 K4 pad 2", 1, 9, 13, 16, 4, 5, 5, 1, 2}, true, false, false},
    {{"tail 3x3 C8 K1 pad 0", 1, 12, 7, 8, 1, 3, 3, 1, 0}, true, false, false},
    {{"tail 9x9 C8 K4 (K*S 36: v4's narrow-N)", 1, 10, 10, 8, 4, 9, 9, 1, 4}, false, false, false},
    {{"tail 5x5 C96 K4 pad 2, 10 row splits", 1, 40, 20, 96, 4, 5, 5, 1, 2}, true, false, true},
    {{"tail 3x5 C128 K2 pad 1, 2 slices", 1, 10, 12, 128, 2, 3, 5, 1, 1}, true, true, true},
    {{"head 9x9 C3 K64 pad 4, tiles cut", 1, 37, 35, 3, 64, 9, 9, 1, 4}, true, false, true},
    {{"head 5x7 C4 K128 pad 2, 2 slices", 1, 9, 11, 4, 128, 5, 7, 1, 2}, true, false, true},
    {{"D's first 3x3 C3 K64 pad 1, two images", 2, 13, 70, 3, 64, 3, 3, 1, 1}, true, false, true},
    {{"5x5 C3 K64 pad 2", 1, 11, 9, 3, 64, 5, 5, 1, 2}, true, false, true},
};
}  // namespace

// v6's tail and narrow-C paths against the double reference within the TF32 bound, twice with
// the same bits, and not v4's bits (fp32 narrow-N, or v3) where they run; v4's where they do
// not. v7 runs the same TF32 paths: v6's bits.
TEST_CASE("conv2d v6: the tail and head paths (at most 4 outputs or inputs) against the reference",
          "[cuda][conv2d][v6][tail]") {
  uint64_t seed = 8800;
  for (const PathCase& c : kTailCases)
    check_v6_paths(c, seed += 10, [&c](PassBufs& bufs, const std::vector<std::vector<float>>& v6) {
      const auto r7 = bufs.run(ConvAlgo::v7_halo_tile_bf16);
      const bool runs[3] = {c.fwd, c.data, c.wgrad};
      for (int pass = 0; pass < 3; ++pass)
        if (runs[pass]) CHECK(r7[pass] == v6[pass]);
    });
}

// The narrow-C path reads each output's filter-row window as 32 consecutive floats, 27 of them
// its own (9 x 3) and 5 of the next input columns', which it masks to zero rather than multiply
// by the zero weights: an infinite input must make exactly the outputs that see it non-finite.
// Forward of the head (inf in x), backward-data of the tail (inf in dy) and the weight gradient
// of a 3-channel layer (inf in x), against the reference.
TEST_CASE("conv2d v6's narrow-C path keeps a non-finite input inside its receptive field", "[cuda][conv2d][v6][tail]") {
  const ConvAlgo a = ConvAlgo::v6_halo_tile_tf32;
  auto finite_mask = [](const auto& v) {
    std::vector<bool> m(v.size());
    for (size_t i = 0; i < v.size(); ++i) m[i] = std::isfinite(double(v[i]));
    return m;
  };
  {
    const Shape s{"head with an inf", 1, 12, 14, 3, 64, 9, 9, 1, 4};
    Data d = make(s, 95);
    const Conv2dParams& p = d.p;
    d.x[(size_t(5) * p.W + 6) * p.C + 1] = std::numeric_limits<float>::infinity();
    std::vector<double> ref(d.ny);
    const auto xd = to_double(d.x), wd = to_double(d.w), bd = to_double(d.b);
    conv2d_forward_cpu_ref(p, xd.data(), wd.data(), bd.data(), ref.data());
    DevBuf x(d.x), w(d.w), b(d.b), y(d.ny);
    y.poison();
    conv2d_forward_cuda(p, x, w, b, y, a, nullptr);
    const auto got = y.download();
    const std::vector<bool> want = finite_mask(ref);
    CHECK(finite_mask(got) == want);
    CHECK(std::count(want.begin(), want.end(), false) == 9 * 9 * 64);
  }
  {
    const Shape s{"tail with an inf in dy", 1, 12, 14, 64, 3, 9, 9, 1, 4};
    Data d = make(s, 96);
    const Conv2dParams& p = d.p;
    d.dy[(size_t(4) * p.Q() + 9) * p.K + 2] = -std::numeric_limits<float>::infinity();
    std::vector<double> ref(d.nx);
    const auto dyd = to_double(d.dy), wd = to_double(d.w);
    conv2d_backward_data_cpu_ref(p, dyd.data(), wd.data(), ref.data());
    DevBuf dy(d.dy), w(d.w), dx(d.nx);
    dx.poison();
    conv2d_backward_data_cuda(p, dy, w, dx, a, nullptr);
    const auto got = dx.download();
    const std::vector<bool> want = finite_mask(ref);
    CHECK(finite_mask(got) == want);
    CHECK(std::count(want.begin(), want.end(), false) == 9 * 9 * 64);
  }
  {
    // The weight gradient's last column tile (64 .. 95 of 70 output columns): an inf in the last
    // input column meets columns 70 and 71's zero dy at s = 0, masked in A. 3 r x 2 s x 64 k.
    const Shape s{"D's first layer with an inf in x", 1, 13, 70, 3, 64, 3, 3, 1, 1};
    Data d = make(s, 97);
    const Conv2dParams& p = d.p;
    d.x[(size_t(5) * p.W + 69) * p.C + 1] = std::numeric_limits<float>::infinity();
    std::vector<double> ref(d.nw), dbr(size_t(p.K));
    const auto xd = to_double(d.x), dyd = to_double(d.dy);
    conv2d_backward_weight_cpu_ref(p, xd.data(), dyd.data(), ref.data(), dbr.data());
    DevBuf x(d.x), dy(d.dy), dw(d.nw);
    dw.poison();
    conv2d_backward_weight_cuda(p, x, dy, dw, nullptr, a, nullptr);
    const auto got = dw.download();
    const std::vector<bool> want = finite_mask(ref);
    CHECK(finite_mask(got) == want);
    CHECK(std::count(want.begin(), want.end(), false) == 3 * 2 * 64);
  }
}

// The same for v6's tail path (9x9, 3 outputs): misaligned weights go through the workspace and
// give the aligned weights' bits, which are not v4's (fp32 narrow-N), so the path did not change.
TEST_CASE("conv2d v6's tail path with weights off 16-byte alignment stays on it", "[cuda][conv2d][v6][tail]") {
  const Shape s{"arena weights, tail", 1, 9, 12, 16, 3, 9, 9, 1, 4};
  Data d = make(s, 94);
  const Conv2dParams& p = d.p;
  DevBuf x(d.x), w(d.w), w1(shifted_by_one(d.w)), b(d.b), y(d.ny);
  const ConvAlgo a = ConvAlgo::v6_halo_tile_tf32;
  std::vector<float> got[3];
  int i = 0;
  for (const float* wp : {static_cast<const float*>(w), static_cast<const float*>(w1.get()) + 1}) {
    y.poison();
    conv2d_forward_cuda(p, x, wp, b, y, a, nullptr);
    got[i++] = y.download();
  }
  y.poison();
  conv2d_forward_cuda(p, x, w, b, y, ConvAlgo::v4_implicit_gemm_tf32_multistage, nullptr);
  got[2] = y.download();
  SRGAN_CHECK_CLOSE(compare(got[1], d.y_ref, tol_for(a, double(p.R) * p.S * p.C)));
  CHECK(got[1] == got[0]);
  CHECK(got[0] != got[2]);
}
