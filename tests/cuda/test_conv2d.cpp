// conv2d on the GPU against the double-precision CPU reference: every ConvAlgo (v1_direct,
// v2_smem_tiled, v3_implicit_gemm_tf32, v4 (TF32), v5 (BF16), v6 (TF32 halo tile), v7 (BF16
// halo tile), cudnn), forward / backward-data /
// backward-weight (+ bias gradient), over odd shapes that fit no tile and SRGAN's real layers, on fresh random inputs,
// with NaN-poisoned outputs. Also the fused conv + bias + PReLU against the unfused composition.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "kernels/conv2d.h"
#include "kernels/conv2d_fused.h"
#include "kernels/cuda_context.h"
#include "kernels/prelu.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;

namespace {

struct Shape {
  const char* what;
  int N, H, W, C, K, R, S, stride, pad;
};

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

// Every variant of the table (conv2d.h), ours first; the baselines where with_baselines keeps them.
std::vector<ConvAlgo> ours() {
  std::vector<ConvAlgo> v;
  for (const ConvVariant& c : conv_variants())
    if (!c.library) v.push_back(c.algo);
  return v;
}
std::vector<ConvAlgo> all_variants() {
  std::vector<ConvAlgo> v = ours();
  for (const ConvVariant& c : conv_variants())
    if (c.library && baselines_available()) v.push_back(c.algo);
  return v;
}
const std::vector<ConvAlgo> kAlgos = all_variants();

Conv2dParams params(const Shape& s) {
  Conv2dParams p;
  p.N = s.N; p.H = s.H; p.W = s.W; p.C = s.C; p.K = s.K; p.R = s.R; p.S = s.S;
  p.stride = s.stride; p.pad = s.pad;
  return p;
}

// The CUDA emulator runs a kernel some 10^4 times slower than a GPU: there a shape over 5e7 flops
// runs at batch 1, and one still over 2e8 flops is left to the GPU run (false). Batch only adds
// rows to the same tiles; the paths a layer takes (tile sizes, partial tiles, strides, split-K,
// the 16-byte loads) are set by its channels, filter and sides, which stay. Elsewhere the shape
// runs as written (SRGAN_TEST_SMALL keeps only the small ones for compute-sanitizer).
bool fit_to_machine(Shape& s) {
  if (small_only() && params(s).flops() > 2e7) return false;
#ifdef SRGAN_CUDA_EMU
  if (params(s).flops() > 5e7) s.N = 1;
  return params(s).flops() <= 2e8;
#else
  return true;
#endif
}

std::string describe(const Shape& s) {
  std::ostringstream os;
  os << s.what << ": N=" << s.N << " H=" << s.H << " W=" << s.W << " C=" << s.C << " K=" << s.K
     << " R=" << s.R << " S=" << s.S << " stride=" << s.stride << " pad=" << s.pad;
  return os.str();
}

// The plain loops are the ground truth; for the big shapes the im2col + BLAS path (itself
// tested against the loops in test_kernels_cpu) keeps the reference time to a second or two.
bool use_gemm_ref(const Conv2dParams& p) { return p.flops() > 2e8; }

// k = number of products summed into one output of the pass.
Tol tol_for(ConvAlgo a, double k) {
  if (a == ConvAlgo::v3_implicit_gemm_tf32) return tol_tf32(k);
  // v4 truncates its inputs to TF32 (relative error <= 2^-10, one-sided) where v3 rounds them
  // (<= 2^-11): twice v3's tolerance. Its fallbacks (v3) pass the same bound. v6 and v8 (the
  // tensor core reads the TF32 bits of wgmma's shared-memory operands) truncate too.
  if (a == ConvAlgo::v4_implicit_gemm_tf32_multistage || a == ConvAlgo::v6_halo_tile_tf32 ||
      a == ConvAlgo::v8_halo_wgmma_tf32) {
    const Tol t = tol_tf32(k);
    return {2 * t.atol, 2 * t.rtol};
  }
  if (a == ConvAlgo::v5_implicit_gemm_bf16_multistage || a == ConvAlgo::v7_halo_tile_bf16) return tol_bf16(k);
  // cuDNN may pick Winograd or FFT algorithms, whose transforms add rounding: 10x looser.
  if (a == ConvAlgo::cudnn) {
    Tol t = tol_fp32(k);
    return {t.atol * 10, t.rtol * 10};
  }
  return tol_fp32(k);
}

struct Data {
  Conv2dParams p;
  size_t nx, nw, ny;
  std::vector<float> x, w, b, dy;
  std::vector<double> y_ref, dx_ref, dw_ref, db_ref;
};

Data make(const Shape& s, uint64_t seed) {
  Data d;
  d.p = params(s);
  const Conv2dParams& p = d.p;
  d.nx = size_t(p.N) * p.H * p.W * p.C;
  d.nw = size_t(p.K) * p.R * p.S * p.C;
  d.ny = size_t(p.N) * p.P() * p.Q() * p.K;
  d.x = random_vector<float>(d.nx, seed);
  d.w = random_vector<float>(d.nw, seed + 1);
  d.b = random_vector<float>(size_t(p.K), seed + 2);
  d.dy = random_vector<float>(d.ny, seed + 3);
  const auto x = to_double(d.x), w = to_double(d.w), b = to_double(d.b), dy = to_double(d.dy);
  d.y_ref.resize(d.ny);
  d.dx_ref.resize(d.nx);
  d.dw_ref.resize(d.nw);
  d.db_ref.resize(size_t(p.K));
  if (use_gemm_ref(p)) {
    conv2d_forward_cpu_gemm(p, x.data(), w.data(), b.data(), d.y_ref.data());
    conv2d_backward_data_cpu_gemm(p, dy.data(), w.data(), d.dx_ref.data());
    conv2d_backward_weight_cpu_gemm(p, x.data(), dy.data(), d.dw_ref.data(), d.db_ref.data());
  } else {
    conv2d_forward_cpu_ref(p, x.data(), w.data(), b.data(), d.y_ref.data());
    conv2d_backward_data_cpu_ref(p, dy.data(), w.data(), d.dx_ref.data());
    conv2d_backward_weight_cpu_ref(p, x.data(), dy.data(), d.dw_ref.data(), d.db_ref.data());
  }
  return d;
}

// v with one float in front: its copy at element 1 of a device buffer is 4 bytes past a 16-byte
// boundary, as views and the parameter arena's weights may be.
std::vector<float> shifted_by_one(const std::vector<float>& v) {
  std::vector<float> o(v.size() + 1, 0.f);
  std::copy(v.begin(), v.end(), o.begin() + 1);
  return o;
}

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
namespace {
// The nearest bfloat16 (8 significant bits), ties to even, written from frexp / nearbyint rather
// than the bit trick of the emulator's cvt.
double round_bf16(float v) {
  int e = 0;
  const double m = std::frexp(double(v), &e);  // v = m 2^e, |m| in [0.5, 1)
  return std::ldexp(std::nearbyint(std::ldexp(m, 8)), e - 8);
}

// Forward, backward-data and backward-weight of one algorithm into fresh (NaN-poisoned) buffers.
struct PassBufs {
  const Conv2dParams& p;
  DevBuf &x, &w, &bias, &dy, &y, &dx, &dw, &db;
  std::vector<std::vector<float>> run(ConvAlgo algo) {
    y.poison();
    conv2d_forward_cuda(p, x, w, bias, y, algo, nullptr);
    dx.poison();
    conv2d_backward_data_cuda(p, dy, w, dx, algo, nullptr);
    dw.poison();
    db.poison();
    conv2d_backward_weight_cuda(p, x, dy, dw, db, algo, nullptr);
    return {y.download(), dx.download(), dw.download()};
  }
};

std::vector<double> rounded_bf16(const std::vector<float>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = round_bf16(v[i]);
  return r;
}
}  // namespace

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
struct HaloCase {
  Shape sh;
  bool fwd, data, wgrad;  // which passes the halo tile runs itself
};
const HaloCase kHaloCases[] = {
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
}  // namespace

// v6 against the double reference, twice with the same bits, and not v4's bits where it runs
// (it sums in another order, so a silent fallback to v4 would show); v4's bits where it does not.
TEST_CASE("conv2d v6: the halo tile against the reference, and v4 where it does not apply", "[cuda][conv2d][v6]") {
  const ConvAlgo a = ConvAlgo::v6_halo_tile_tf32, v4 = ConvAlgo::v4_implicit_gemm_tf32_multistage;
  uint64_t seed = 8600;
  for (const HaloCase& c : kHaloCases) {
    INFO(describe(c.sh));
    Data d = make(c.sh, seed += 10);
    const Conv2dParams& p = d.p;
    const double k_fwd = double(p.R) * p.S * p.C, k_data = double(p.R) * p.S * p.K, k_wgt = double(p.N) * p.P() * p.Q();
    DevBuf x(d.x), w(d.w), bias(d.b), dy(d.dy), y(d.ny), dx(d.nx), dw(d.nw), db(size_t(p.K));
    PassBufs bufs{p, x, w, bias, dy, y, dx, dw, db};
    const auto r1 = bufs.run(a), r2 = bufs.run(a), r4 = bufs.run(v4);
    SRGAN_CHECK_CLOSE(compare(r1[0], d.y_ref, tol_for(a, k_fwd)));
    SRGAN_CHECK_CLOSE(compare(r1[1], d.dx_ref, tol_for(a, k_data)));
    SRGAN_CHECK_CLOSE(compare(r1[2], d.dw_ref, tol_for(a, k_wgt)));
    CHECK(r1 == r2);
    CHECK((r1[0] != r4[0]) == c.fwd);
    CHECK((r1[1] != r4[1]) == c.data);
    CHECK((r1[2] != r4[2]) == c.wgrad);
  }
}

// v7 (v6 with BF16 operands) where the halo tile runs: against the double reference of the
// bf16-rounded inputs with the fp32 bound, against the unrounded one with the BF16 bound and not
// the fp32 one (as v5, above), and not v5's bits; elsewhere v5's bits (its fallback), twice the
// same. The halo weight gradient is TF32 in v7 too: v6's bits.
TEST_CASE("conv2d v7: the halo tile with BF16 operands against the BF16-rounded reference", "[cuda][conv2d][v7]") {
  const ConvAlgo a = ConvAlgo::v7_halo_tile_bf16, v5 = ConvAlgo::v5_implicit_gemm_bf16_multistage;
  uint64_t seed = 8700;
  for (const HaloCase& c : kHaloCases) {
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
struct TailCase {
  Shape sh;
  bool fwd, data, wgrad;  // which passes these paths take
};
const TailCase kTailCases[] = {
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
  const ConvAlgo a = ConvAlgo::v6_halo_tile_tf32, v4 = ConvAlgo::v4_implicit_gemm_tf32_multistage;
  uint64_t seed = 8800;
  for (const TailCase& c : kTailCases) {
    INFO(describe(c.sh));
    Data d = make(c.sh, seed += 10);
    const Conv2dParams& p = d.p;
    const double k_fwd = double(p.R) * p.S * p.C, k_data = double(p.R) * p.S * p.K, k_wgt = double(p.N) * p.P() * p.Q();
    DevBuf x(d.x), w(d.w), bias(d.b), dy(d.dy), y(d.ny), dx(d.nx), dw(d.nw), db(size_t(p.K));
    PassBufs bufs{p, x, w, bias, dy, y, dx, dw, db};
    const auto r1 = bufs.run(a), r2 = bufs.run(a), r4 = bufs.run(v4);
    SRGAN_CHECK_CLOSE(compare(r1[0], d.y_ref, tol_for(a, k_fwd)));
    SRGAN_CHECK_CLOSE(compare(r1[1], d.dx_ref, tol_for(a, k_data)));
    SRGAN_CHECK_CLOSE(compare(r1[2], d.dw_ref, tol_for(a, k_wgt)));
    CHECK(r1 == r2);
    CHECK((r1[0] != r4[0]) == c.fwd);
    CHECK((r1[1] != r4[1]) == c.data);
    CHECK((r1[2] != r4[2]) == c.wgrad);
    const auto r7 = bufs.run(ConvAlgo::v7_halo_tile_bf16);
    const bool runs[3] = {c.fwd, c.data, c.wgrad};
    for (int pass = 0; pass < 3; ++pass)
      if (runs[pass]) CHECK(r7[pass] == r1[pass]);
  }
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

TEST_CASE("fused conv + bias + PReLU equals the unfused composition", "[cuda][conv2d][fused]") {
  const Shape shapes[] = {
      {"odd", 2, 9, 7, 5, 6, 3, 3, 1, 1},
      {"G head 9x9 3->64 @24", 2, 24, 24, 3, 64, 9, 9, 1, 4},
      {"G up 3x3 64->256 @24", 2, 24, 24, 64, 256, 3, 3, 1, 1},
  };
  uint64_t seed = 5000;
  for (Shape s : shapes) {
    if (!fit_to_machine(s)) continue;
    Data d = make(s, seed);
    seed += 10;
    const Conv2dParams& p = d.p;
    INFO(describe(s));
    DevBuf x(d.x), w(d.w), b(d.b);
    DevBuf y(d.ny), pre(d.ny), y_unfused(d.ny), z(d.ny);
    for (bool per_channel : {false, true}) {
      INFO("per_channel " << per_channel);
      // Slopes of both signs, so negative inputs exercise the slope.
      auto slope_h = random_vector<float>(per_channel ? size_t(p.K) : 1, seed + 7, -0.5, 0.5);
      DevBuf slope(slope_h);
      PreluParams pp;
      pp.M = int64_t(p.N) * p.P() * p.Q();
      pp.C = p.K;
      pp.per_channel = per_channel;
      // Ground truth in double: conv reference, then PReLU reference.
      std::vector<double> act_ref(d.ny);
      const auto slope_d = to_double(slope_h);
      prelu_forward_cpu(pp, d.y_ref.data(), slope_d.data(), act_ref.data());
      for (ConvAlgo a : kAlgos) {
        INFO("algo " << conv_algo_name(a));
        // Unfused: convolution, then PReLU as a separate kernel.
        z.poison();
        y_unfused.poison();
        conv2d_forward_cuda(p, x, w, b, z, a, nullptr);
        prelu_forward_cuda(pp, z, slope, y_unfused, nullptr);
        const auto z_h = z.download(), yu_h = y_unfused.download();
        // Fused, with and without the pre-activation output.
        y.poison();
        pre.poison();
        conv2d_bias_prelu_forward_cuda(p, x, w, b, slope, per_channel, y, pre, a, nullptr);
        const auto y_h = y.download(), pre_h = pre.download();
        // Same arithmetic in the same order (the epilogue adds the bias, then applies the same
        // leaky_f): the fused result must equal the composition bit for bit.
        SRGAN_CHECK_CLOSE(bitwise_equal(y_h, yu_h));
        SRGAN_CHECK_CLOSE(bitwise_equal(pre_h, z_h));
        SRGAN_CHECK_CLOSE(compare(y_h, act_ref, tol_for(a, double(p.R) * p.S * p.C)));
        y.poison();
        conv2d_bias_prelu_forward_cuda(p, x, w, b, slope, per_channel, y, nullptr, a, nullptr);
        SRGAN_CHECK_CLOSE(bitwise_equal(y.download(), yu_h));
      }
    }
  }
}

// Inference epilogue (conv2d_affine_act_forward_cuda): y = act(conv * scale + shift) + residual,
// the batch norm folded into scale / shift, in every variant's store: the v1 loop, v2/v3 tiles,
// v4 (one split and split-K), v4's narrow-N tail, v6's tail and narrow-C paths, cuDNN + a second
// pass. Ground truth: the double convolution without bias, then the CPU epilogue in double.
TEST_CASE("inference epilogue: scale, shift, PReLU and residual in the convolution's store", "[cuda][conv2d][fused]") {
  const Shape shapes[] = {
      {"odd (v3 under v4)", 2, 9, 7, 5, 6, 3, 3, 1, 1},
      {"G body 3x3 64->64 @12", 1, 12, 12, 64, 64, 3, 3, 1, 1},
      {"split-K 256->64 @4", 1, 4, 4, 256, 64, 3, 3, 1, 1},
      {"tail 9x9 16->3 (narrow-N)", 1, 13, 11, 16, 3, 9, 9, 1, 4},
      {"tail 9x9 64->3 (v6's tail path)", 1, 9, 10, 64, 3, 9, 9, 1, 4},
      {"head 9x9 3->64 (v6's narrow-C path)", 1, 10, 9, 3, 64, 9, 9, 1, 4},
  };
  struct Parts {
    bool scale, shift, slope, per_channel, residual;
  };
  const Parts parts[] = {{true, true, true, false, true},
                         {false, true, true, true, false},
                         {true, false, false, false, true},
                         {false, false, false, false, false}};
  uint64_t seed = 8100;
  for (Shape s : shapes) {
    if (!fit_to_machine(s)) continue;
    Data d = make(s, seed += 10);
    const Conv2dParams& p = d.p;
    INFO(describe(s));
    const int64_t M = int64_t(p.N) * p.P() * p.Q();
    std::vector<double> conv(d.ny);
    const auto xd = to_double(d.x), wd = to_double(d.w);
    conv2d_forward_cpu_ref<double>(p, xd.data(), wd.data(), nullptr, conv.data());
    const auto scale_h = random_vector<float>(size_t(p.K), seed + 5, 0.5, 1.5);
    const auto shift_h = random_vector<float>(size_t(p.K), seed + 6, -1.0, 1.0);
    const auto slope_h = random_vector<float>(size_t(p.K), seed + 7, -0.5, 0.5);
    const auto res_h = random_vector<float>(d.ny, seed + 8, -2.0, 2.0);
    DevBuf x(d.x), w(d.w), scale(scale_h), shift(shift_h), slope(slope_h), res(res_h), y(d.ny);
    for (const Parts& q : parts) {
      INFO("scale " << q.scale << " shift " << q.shift << " slope " << q.slope << " per_channel " << q.per_channel
                    << " residual " << q.residual);
      std::vector<double> ref = conv;
      const auto sc = to_double(scale_h), sh = to_double(shift_h), sl = to_double(slope_h), rs = to_double(res_h);
      conv_epilogue_cpu<double>(M, p.K, q.scale ? sc.data() : nullptr, q.shift ? sh.data() : nullptr,
                                q.slope ? sl.data() : nullptr, q.per_channel, q.residual ? rs.data() : nullptr,
                                ref.data());
      for (ConvAlgo a : kAlgos) {
        INFO("algo " << conv_algo_name(a));
        y.poison();
        conv2d_affine_act_forward_cuda(p, x, w, q.scale ? scale.get() : nullptr, q.shift ? shift.get() : nullptr,
                                       q.slope ? slope.get() : nullptr, q.per_channel,
                                       q.residual ? res.get() : nullptr, y, a, nullptr);
        SRGAN_CHECK_CLOSE(compare(y.download(), ref, tol_for(a, double(p.R) * p.S * p.C)));
      }
    }
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
