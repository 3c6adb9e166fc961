// The tiled GEMM engine of the CUDA kernels (kernels/tile_gemm_core.h), emulated on the CPU.
// The GPU kernels (tile_gemm.cuh) are thin shells around host/device code: the operand gathers
// of implicit-GEMM convolution, the per-thread shared-memory tile loader, the TF32 mma fragment
// coordinates and the epilogues. This test runs that very code on the host, block by block,
// thread by thread and lane by lane (mma.m16n8k8 emulated from the PTX ISA's fragment layout,
// inputs rounded to TF32 like cvt.rna), and checks every pass against the plain-loop CPU
// references. It also checks that no copy reads outside its tensor, that the loaders write
// every shared-memory element the compute reads (shared memory starts as NaN), that each
// mma operand element comes from exactly one lane register, and that every output is written.
// What it cannot check (needs a GPU): cp.async timing, barriers, the real mma instruction.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "kernels/tile_gemm_core.h"
#include "tests/gemm_case.h"
#include "tests/test_common.h"

using namespace srgan::kern;
using namespace srgan::kern::cuda::tg;
using srgan::test::all_close;
using srgan::test::random_vector;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Address ranges the loaders may read; any copy outside them fails the test.
struct Ranges {
  std::vector<std::pair<const float*, size_t>> r;
  void check(const float* p, int n) const {
    for (auto& [b, sz] : r)
      if (p >= b && p + n <= b + sz) return;
    throw std::runtime_error("tile loader read outside every input tensor");
  }
};

template <int VEC>
struct HostCopy {
  const Ranges* ranges;
  void operator()(float* dst, const float* src, bool valid) const {
    ranges->check(src, valid ? VEC : 1);  // invalid copies still pass a valid dummy address
    for (int v = 0; v < VEC; ++v) dst[v] = valid ? src[v] : 0.f;
  }
};

// cvt.rna.tf32.f32: keep 10 mantissa bits, round to nearest with ties away from zero.
float tf32(float x) {
  if (!std::isfinite(x)) return x;
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u + 0x1000u) & 0xFFFFE000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

template <class Op, int BMN, int BK, int NT>
void load_tile_host(const Op& op, const typename Op::MnCtx* mnc, float* tile, int k0, const Ranges& rg) {
  for (int tid = 0; tid < NT; ++tid) {
    if (op.vec) load_tile_thread<Op, BMN, BK, NT, 4>(op, mnc, tile, k0, tid, HostCopy<4>{&rg});
    else load_tile_thread<Op, BMN, BK, NT, 1>(op, mnc, tile, k0, tid, HostCopy<1>{&rg});
  }
}

float checked(float v) {
  if (std::isnan(v)) throw std::runtime_error("compute read a shared-memory element no loader wrote");
  return v;
}

// Emulates tile_gemm_{ffma,tf32}_kernel over the whole grid (kTile x kTile blocks x splits).
template <class OpA, class OpB, class Epi>
void emulate(Flavour fl, const Problem<OpA, OpB>& pr, const SplitPlan& sp, const Epi& epi, const Ranges& rg) {
  constexpr int BM = kTile, BN = kTile;
  const bool mma = fl == Flavour::tf32;
  const int BK = bk_of(fl);
  const int gx = (pr.M + BM - 1) / BM, gy = (pr.N + BN - 1) / BN;
  for (int bz = 0; bz < sp.splits; ++bz)
    for (int bx = 0; bx < gx; ++bx)
      for (int by = 0; by < gy; ++by) {
        const int m0 = bx * BM, n0 = by * BN;
        std::vector<typename OpA::MnCtx> actx(BM);
        std::vector<typename OpB::MnCtx> bctx(BN);
        for (int i = 0; i < BM; ++i) actx[i] = pr.a.mn_ctx(m0 + i);
        for (int i = 0; i < BN; ++i) bctx[i] = pr.b.mn_ctx(n0 + i);
        int kt0, kt1;
        split_range(pr.Kred, BK, sp.kt_per_split, bz, kt0, kt1);
        // acc[m_local][n_local]: both flavours own each output of the block exactly once; the
        // thread/lane -> output maps are checked in the epilogue loops below.
        std::vector<double> acc(BM * BN, 0.0);
        for (int kt = kt0; kt < kt1; ++kt) {
          if (!mma) {
            using LA = TileLayout<OpA::kContig, BM, 16>;
            using LB = TileLayout<OpB::kContig, BN, 16>;
            std::vector<float> As(LA::kFloats, kNaN), Bs(LB::kFloats, kNaN);
            load_tile_host<OpA, BM, 16, 256>(pr.a, actx.data(), As.data(), kt * 16, rg);
            load_tile_host<OpB, BN, 16, 256>(pr.b, bctx.data(), Bs.data(), kt * 16, rg);
            for (int tid = 0; tid < 256; ++tid) {
              const int tx = tid % 16, ty = tid / 16;
              for (int k = 0; k < 16; ++k)
                for (int i = 0; i < 4; ++i)
                  for (int j = 0; j < 4; ++j)
                    acc[(ty + 16 * i) * BN + tx + 16 * j] +=
                        double(checked(As[LA::idx(ty + 16 * i, k)])) * checked(Bs[LB::idx(tx + 16 * j, k)]);
            }
          } else {
            using LA = TileLayout<OpA::kContig, BM, 32>;
            using LB = TileLayout<OpB::kContig, BN, 32>;
            constexpr int NT = (BM / kWarpM) * (BN / kWarpN) * 32, WARPS_N = BN / kWarpN;
            std::vector<float> As(LA::kFloats, kNaN), Bs(LB::kFloats, kNaN);
            load_tile_host<OpA, BM, 32, NT>(pr.a, actx.data(), As.data(), kt * 32, rg);
            load_tile_host<OpB, BN, 32, NT>(pr.b, bctx.data(), Bs.data(), kt * 32, rg);
            for (int warp = 0; warp < NT / 32; ++warp) {
              const int wm0 = (warp / WARPS_N) * kWarpM, wn0 = (warp % WARPS_N) * kWarpN;
              for (int kk = 0; kk < 32; kk += 8)
                for (int i = 0; i < kWarpM / 16; ++i)
                  for (int j = 0; j < kWarpN / 8; ++j) {
                    // Assemble the 16x8 A and 8x8 B tiles from the 32 lanes' registers, exactly
                    // as the kernel reads them, checking each element is supplied once.
                    float A[16][8], B[8][8];
                    int ca[16][8] = {}, cb[8][8] = {};
                    for (int lane = 0; lane < 32; ++lane) {
                      for (int r = 0; r < 4; ++r) {
                        const int row = mma_a_row(lane, r), col = mma_a_col(lane, r);
                        A[row][col] = tf32(checked(As[LA::idx(wm0 + i * 16 + row, kk + col)]));
                        ++ca[row][col];
                      }
                      for (int r = 0; r < 2; ++r) {
                        const int k = mma_b_k(lane, r), n = mma_b_n(lane);
                        B[k][n] = tf32(checked(Bs[LB::idx(wn0 + j * 8 + n, kk + k)]));
                        ++cb[k][n];
                      }
                    }
                    for (auto& row : ca) for (int c : row) if (c != 1) throw std::runtime_error("A fragment coverage");
                    for (auto& row : cb) for (int c : row) if (c != 1) throw std::runtime_error("B fragment coverage");
                    // D = A * B, scattered back through the C fragment coordinates.
                    int cc[16][8] = {};
                    for (int lane = 0; lane < 32; ++lane)
                      for (int e = 0; e < 4; ++e) {
                        const int row = mma_c_row(lane, e), col = mma_c_col(lane, e);
                        double d = 0.0;
                        for (int k = 0; k < 8; ++k) d += double(A[row][k]) * B[k][col];
                        acc[(wm0 + i * 16 + row) * BN + wn0 + j * 8 + col] += d;
                        ++cc[row][col];
                      }
                    for (auto& row : cc) for (int c : row) if (c != 1) throw std::runtime_error("C fragment coverage");
                  }
            }
          }
        }
        for (int i = 0; i < BM; ++i)
          for (int j = 0; j < BN; ++j)
            if (m0 + i < pr.M && n0 + j < pr.N) epi(m0 + i, n0 + j, float(acc[i * BN + j]), bz);
      }
}

// As launch_tile_gemm + launch_splitk_reduce do on the GPU.
template <class OpA, class OpB, class Epi>
void run_gemm(Flavour fl, const Problem<OpA, OpB>& pr, int max_splits, const Epi& out, int ldc, const Ranges& rg) {
  const SplitPlan sp = plan_splits(fl, pr.M, pr.N, pr.Kred, max_splits);
  if (sp.splits == 1) return emulate(fl, pr, sp, out, rg);
  const int64_t mn = int64_t(pr.M) * pr.N;
  std::vector<float> part(size_t(sp.splits) * mn, kNaN);
  emulate(fl, pr, sp, PartialEpi{part.data(), pr.N, mn}, rg);
  for (int m = 0; m < pr.M; ++m)
    for (int n = 0; n < pr.N; ++n) {
      float s = 0.f;
      for (int z = 0; z < sp.splits; ++z) s += part[size_t(z) * mn + size_t(m) * pr.N + n];
      out(m, n, s, 0);
    }
  (void)ldc;
}

// TF32 inputs with at most 2^-11 relative error each: 2^-9 * (sum of |a||b|) bounds the error;
// with unit inputs that sum is at most k. fp32 products summed in double here: 1e-5.
double atol_for(Flavour fl, double k) { return fl == Flavour::tf32 ? std::ldexp(1.0, -9) * k + 1e-5 : 1e-5; }

struct ConvCase {
  int N, H, W, C, K, R, S, stride, pad;
};

}  // namespace

TEST_CASE("tile GEMM emulation: convolution passes match the reference", "[kernels][tile_gemm]") {
  const ConvCase cases[] = {
      {2, 7, 9, 3, 5, 3, 3, 1, 1},      // scalar copies (C = 3), partial tiles
      {1, 9, 10, 8, 12, 3, 3, 2, 1},    // 16-byte copies, stride 2
      {2, 11, 8, 4, 6, 3, 2, 3, 0},     // rectangular kernel, stride 3, no padding
      {1, 10, 9, 6, 70, 5, 5, 2, 2},    // K > 64: two column tiles
      {1, 12, 12, 16, 4, 1, 1, 1, 0},   // 1x1
      {1, 6, 6, 12, 16, 9, 9, 1, 4},    // 9x9, pad 4
      {4, 16, 16, 4, 8, 3, 3, 1, 1},    // long backward-weight reduction: split-K
  };
  REQUIRE(plan_splits(Flavour::tf32, 8, 36, 4 * 16 * 16, 64).splits > 1);  // the last case splits
  uint64_t seed = 77;
  for (const ConvCase& c : cases) {
    Conv2dParams p;
    p.N = c.N; p.H = c.H; p.W = c.W; p.C = c.C; p.K = c.K; p.R = c.R; p.S = c.S;
    p.stride = c.stride; p.pad = c.pad;
    std::ostringstream os;
    os << "N=" << c.N << " H=" << c.H << " W=" << c.W << " C=" << c.C << " K=" << c.K << " R=" << c.R
       << " S=" << c.S << " stride=" << c.stride << " pad=" << c.pad;
    INFO(os.str());
    const size_t nx = size_t(p.N) * p.H * p.W * p.C, nw = size_t(p.K) * p.R * p.S * p.C,
                 ny = size_t(p.N) * p.P() * p.Q() * p.K;
    // Buffers from std::vector<float> are 16-byte aligned with glibc's allocator; the vec flag
    // is computed from the real pointers either way.
    const auto x = random_vector<float>(nx, seed++), w = random_vector<float>(nw, seed++),
               b = random_vector<float>(size_t(p.K), seed++), dy = random_vector<float>(ny, seed++);
    std::vector<float> wT(nw);  // wT[c][r][s][k] = w[k][r][s][c], as the transpose kernel writes
    for (int k = 0; k < p.K; ++k)
      for (int r = 0; r < p.R; ++r)
        for (int s = 0; s < p.S; ++s)
          for (int ch = 0; ch < p.C; ++ch)
            wT[((size_t(ch) * p.R + r) * p.S + s) * p.K + k] = w[((size_t(k) * p.R + r) * p.S + s) * p.C + ch];
    std::vector<double> y_ref(ny), dx_ref(nx), dw_ref(nw), db_ref(p.K);
    {
      const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end()),
          dyd(dy.begin(), dy.end());
      conv2d_forward_cpu_ref<double>(p, xd.data(), wd.data(), bd.data(), y_ref.data());
      conv2d_backward_data_cpu_ref<double>(p, dyd.data(), wd.data(), dx_ref.data());
      conv2d_backward_weight_cpu_ref<double>(p, xd.data(), dyd.data(), dw_ref.data(), db_ref.data());
    }
    Ranges rg{{{x.data(), nx}, {w.data(), nw}, {dy.data(), ny}, {wT.data(), nw}}};
    for (Flavour fl : {Flavour::ffma, Flavour::tf32}) {
      INFO((fl == Flavour::tf32 ? "tf32" : "ffma"));
      std::vector<float> y(ny, kNaN), dx(nx, kNaN), dw(nw, kNaN);
      run_gemm(fl, conv_fwd_problem(p, x.data(), w.data()), 1, BiasActEpi{y.data(), p.K, b.data(), nullptr, 0, nullptr},
               p.K, rg);
      SRGAN_REQUIRE_CLOSE(all_close(y, y_ref, atol_for(fl, p.R * p.S * p.C), 1e-5));
      run_gemm(fl, conv_bwd_data_problem(p, dy.data(), wT.data()), 1,
               BiasActEpi{dx.data(), p.C, nullptr, nullptr, 0, nullptr}, p.C, rg);
      SRGAN_REQUIRE_CLOSE(all_close(dx, dx_ref, atol_for(fl, p.R * p.S * p.K), 1e-5));
      // max_splits 64 as in conv2d_backward_weight_cuda: these small problems do split.
      run_gemm(fl, conv_bwd_weight_problem(p, x.data(), dy.data()), 64,
               BiasActEpi{dw.data(), p.R * p.S * p.C, nullptr, nullptr, 0, nullptr}, p.R * p.S * p.C, rg);
      SRGAN_REQUIRE_CLOSE(all_close(dw, dw_ref, atol_for(fl, p.N * p.P() * p.Q()), 1e-5));
    }
  }
}

TEST_CASE("tile GEMM emulation: the fused bias + PReLU epilogue", "[kernels][tile_gemm]") {
  Conv2dParams p;
  p.N = 1; p.H = 5; p.W = 6; p.C = 4; p.K = 9; p.R = 3; p.S = 3; p.stride = 1; p.pad = 1;
  const size_t nx = size_t(p.H) * p.W * p.C, nw = size_t(p.K) * 9 * p.C, ny = size_t(p.P()) * p.Q() * p.K;
  const auto x = random_vector<float>(nx, 5), w = random_vector<float>(nw, 6), b = random_vector<float>(p.K, 7),
             a = random_vector<float>(p.K, 8);
  Ranges rg{{{x.data(), nx}, {w.data(), nw}}};
  std::vector<float> z(ny, kNaN), y(ny, kNaN), pre(ny, kNaN);
  run_gemm(Flavour::ffma, conv_fwd_problem(p, x.data(), w.data()), 1,
           BiasActEpi{z.data(), p.K, b.data(), nullptr, 0, nullptr}, p.K, rg);
  run_gemm(Flavour::ffma, conv_fwd_problem(p, x.data(), w.data()), 1,
           BiasActEpi{y.data(), p.K, b.data(), a.data(), 2, pre.data()}, p.K, rg);
  std::vector<float> ref(ny);
  for (size_t i = 0; i < ny; ++i) ref[i] = leaky_f(z[i], a[i % p.K]);
  SRGAN_REQUIRE_CLOSE(all_close(pre, z, 0.0, 0.0));
  SRGAN_REQUIRE_CLOSE(all_close(y, ref, 0.0, 0.0));
}

TEST_CASE("tile GEMM emulation: gemm transposes, padding, alpha/beta, split-K", "[kernels][tile_gemm]") {
  using Case = srgan::test::GemmCase;
  const Case cases[] = {{false, false, 7, 5, 3, 0, 1.0, 0.0},     {false, true, 33, 65, 17, 0, 1.0, 0.0},
                        {true, false, 65, 33, 129, 0, 1.0, 0.0},  {true, true, 64, 64, 64, 0, 1.0, 0.0},
                        {false, false, 20, 70, 50, 3, 0.5, 0.0},  {true, false, 31, 9, 300, 1, -2.0, 0.5},
                        {false, true, 8, 12, 900, 0, 1.0, 1.0},   {false, false, 4, 4, 0, 0, 1.0, 0.5}};
  uint64_t seed = 300;
  for (const Case& c : cases) {
    INFO("transA=" << c.ta << " transB=" << c.tb << " M=" << c.M << " N=" << c.N << " K=" << c.K << " pad=" << c.pad);
    const GemmParams p = c.params();
    const auto A = random_vector<float>(size_t(c.a_rows()) * p.lda + 1, seed++);
    const auto B = random_vector<float>(size_t(c.b_rows()) * p.ldb + 1, seed++);
    const auto C0 = random_vector<float>(size_t(c.M) * p.ldc, seed++);
    std::vector<double> ref(C0.begin(), C0.end());
    {
      const std::vector<double> Ad(A.begin(), A.end()), Bd(B.begin(), B.end());
      gemm_cpu_ref<double>(p, Ad.data(), Bd.data(), ref.data());
    }
    for (Flavour fl : {Flavour::ffma, Flavour::tf32}) {
      for (int off : {0, 1}) {  // off = 1: misaligned views, scalar copies
        INFO((fl == Flavour::tf32 ? "tf32" : "ffma") << " offset " << off);
        // With offset 1 the views start one float in; the last row stays inside the buffer
        // because the buffers were allocated one float longer.
        Ranges rg{{{A.data(), A.size()}, {B.data(), B.size()}}};
        std::vector<float> C = C0;
        if (c.beta == 0.0) std::fill(C.begin(), C.end(), kNaN);
        with_gemm_problem(p, A.data() + off, B.data() + off, [&](const auto& pr) {
          run_gemm(fl, pr, 64, AlphaBetaEpi{C.data(), p.ldc, float(p.alpha), float(p.beta)}, p.ldc, rg);
        });
        std::vector<double> r2 = ref;
        if (off) {
          GemmParams q = p;
          const std::vector<double> Ad(A.begin() + 1, A.end()), Bd(B.begin() + 1, B.end());
          r2.assign(C0.begin(), C0.end());
          gemm_cpu_ref<double>(q, Ad.data(), Bd.data(), r2.data());
        }
        std::vector<float> got;
        std::vector<double> want;
        for (int i = 0; i < c.M; ++i)
          for (int j = 0; j < c.N; ++j) {
            got.push_back(C[size_t(i) * p.ldc + j]);
            want.push_back(r2[size_t(i) * p.ldc + j]);
          }
        SRGAN_REQUIRE_CLOSE(all_close(got, want, atol_for(fl, c.K + 1) * (std::abs(c.alpha) + std::abs(c.beta)), 1e-5));
      }
    }
  }
}

// tg::plan_split_k, the split-K cost model of v4's multistage GEMM and the streamed halo tile:
// every step in exactly one non-empty split, within the limit; with free partials and one block
// the fewest steps a split that the limit allows; and dearer partials never more splits.
TEST_CASE("split-K cost model: coverage, limits, and the partials' price", "[kernels][tile_gemm]") {
  for (int steps : {0, 1, 2, 3, 7, 16, 32, 72, 144, 1000})
    for (int max_splits : {0, 1, 2, 5, 16, 64})
      for (int64_t blocks : {1, 5, 72, 131, 132, 264, 1152})
        for (int per_sm : {1, 2, 3}) {
          int last_splits = 1 << 30;
          for (int64_t out_elems : {int64_t(0), int64_t(1000), int64_t(1) << 20, int64_t(1) << 24, int64_t(1) << 34}) {
            const SplitPlan sp = plan_split_k(blocks, per_sm, steps, 0.35, out_elems, max_splits);
            INFO("steps " << steps << " max " << max_splits << " blocks " << blocks << " per_sm " << per_sm
                          << " out " << out_elems);
            REQUIRE(sp.splits >= 1);
            REQUIRE(sp.splits <= std::max(1, max_splits));
            REQUIRE(sp.kt_per_split >= 1);
            REQUIRE(int64_t(sp.splits) * sp.kt_per_split >= steps);           // every step covered
            if (steps > 0) REQUIRE(int64_t(sp.splits - 1) * sp.kt_per_split < steps);  // none empty
            if (max_splits <= 1) REQUIRE(sp.splits == 1);
            REQUIRE(sp.splits <= last_splits);  // dearer partials: never more splits
            last_splits = sp.splits;
            if (out_elems == int64_t(1) << 34) REQUIRE(sp.splits == 1);  // 64 GiB of partials a split
            if (out_elems == 0 && blocks == 1 && steps > 0 && max_splits >= 1) {
              const int s = std::min(max_splits, steps);
              REQUIRE(sp.kt_per_split == (steps + s - 1) / s);
            }
          }
        }
}
