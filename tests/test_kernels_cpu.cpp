// The fast CPU paths against the plain-loop references: im2col + OpenBLAS convolution (forward,
// backward-data, backward-weight) and the BLAS GEMM, on fresh random inputs over a shape grid
// that includes SRGAN's real layer shapes at batch 1-2. Outputs are poisoned with NaN first.
#include <cmath>
#include <array>
#include <limits>

#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "tests/test_common.h"

using namespace srgan::kern;
using srgan::test::all_close;
using srgan::test::random_vector;

namespace {
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// fp32 sums of up to K = R*S*C products in a different order than the double-accumulated
// reference: error grows like sqrt(K) * eps32 * |terms|; 1e-4 absolute + 1e-4 relative covers K <= 5000.
constexpr double kAtol = 1e-4, kRtol = 1e-4;

struct Case { int N, H, W, C, K, R, stride, pad; };
const std::vector<Case> kGrid = {
    {2, 7, 9, 3, 5, 3, 1, 1},   {1, 8, 8, 4, 3, 3, 2, 1},    {2, 5, 5, 6, 7, 1, 1, 0},
    {1, 11, 13, 3, 4, 9, 1, 4}, {3, 6, 7, 2, 3, 5, 3, 2},    {1, 24, 24, 64, 64, 3, 1, 1},  // SRResNet body
    {1, 24, 24, 3, 64, 9, 1, 4},  {1, 24, 24, 64, 256, 3, 1, 1}, {1, 96, 96, 64, 3, 9, 1, 4},  // head, up, tail
    {1, 96, 96, 3, 64, 3, 1, 1},  {1, 48, 48, 64, 128, 3, 2, 1}, {1, 12, 12, 256, 256, 3, 2, 1}, // discriminator
    // K < C (transposed path) with stride > 1 and several images per band: the last input rows
    // feed no output, which once misplaced image 1's rows.
    {2, 4, 4, 8, 4, 1, 2, 0},   {3, 6, 6, 8, 3, 3, 2, 0},   {2, 7, 7, 6, 2, 2, 2, 0},
    // K < C with stride 1 (the planar forward): several images per band, and one image too big
    // for the scratch (200*200 pixels * 243 > 8M elements), so it is cut into bands of rows.
    {3, 7, 6, 8, 3, 3, 1, 1},   {1, 200, 200, 16, 3, 9, 1, 4},
};
}  // namespace

TEST_CASE("conv2d im2col+GEMM matches the reference loops", "[kernels][conv2d]") {
  uint64_t seed = 100;
  for (auto c : kGrid) {
    Conv2dParams p;
    p.N = c.N; p.H = c.H; p.W = c.W; p.C = c.C; p.K = c.K; p.R = c.R; p.S = c.R; p.stride = c.stride; p.pad = c.pad;
    INFO("N=" << c.N << " H=" << c.H << " W=" << c.W << " C=" << c.C << " K=" << c.K << " R=" << c.R
              << " stride=" << c.stride << " pad=" << c.pad);
    const size_t nx = size_t(p.N) * p.H * p.W * p.C, nw = size_t(p.K) * p.R * p.S * p.C;
    const size_t ny = size_t(p.N) * p.P() * p.Q() * p.K;
    auto x = random_vector<float>(nx, seed++), w = random_vector<float>(nw, seed++);
    auto b = random_vector<float>(size_t(p.K), seed++), dy = random_vector<float>(ny, seed++);

    std::vector<float> y_ref(ny), y(ny, kNaN);
    conv2d_forward_cpu_ref(p, x.data(), w.data(), b.data(), y_ref.data());
    conv2d_forward_cpu_gemm(p, x.data(), w.data(), b.data(), y.data());
    SRGAN_REQUIRE_CLOSE(all_close(y, y_ref, kAtol, kRtol));

    std::vector<float> dx_ref(nx), dx(nx, kNaN);
    conv2d_backward_data_cpu_ref(p, dy.data(), w.data(), dx_ref.data());
    conv2d_backward_data_cpu_gemm(p, dy.data(), w.data(), dx.data());
    SRGAN_REQUIRE_CLOSE(all_close(dx, dx_ref, kAtol, kRtol));

    // Weight gradients sum over N*P*Q (up to 9216) products: scale the absolute tolerance.
    std::vector<float> dw_ref(nw), dw(nw, kNaN), db_ref(p.K), db(p.K, kNaN);
    conv2d_backward_weight_cpu_ref(p, x.data(), dy.data(), dw_ref.data(), db_ref.data());
    conv2d_backward_weight_cpu_gemm(p, x.data(), dy.data(), dw.data(), db.data());
    const double atol_w = 1e-5 * std::sqrt(double(p.N) * p.P() * p.Q()) * 10;
    SRGAN_REQUIRE_CLOSE(all_close(dw, dw_ref, atol_w, kRtol));
    SRGAN_REQUIRE_CLOSE(all_close(db, db_ref, atol_w, kRtol));
  }
}

TEST_CASE("GEMM through OpenBLAS matches the reference loops for every transpose", "[kernels][gemm]") {
  uint64_t seed = 200;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (auto [M, N, K] : std::vector<std::array<int, 3>>{{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 128, 9}}) {
        INFO("transA=" << ta << " transB=" << tb << " M=" << M << " N=" << N << " K=" << K);
        GemmParams p;
        p.transA = ta; p.transB = tb; p.M = M; p.N = N; p.K = K;
        p.lda = ta ? M : K; p.ldb = tb ? K : N; p.ldc = N;
        p.alpha = 1.5; p.beta = 0.5;
        auto A = random_vector<double>(size_t(M) * K, seed++), B = random_vector<double>(size_t(K) * N, seed++);
        auto C0 = random_vector<double>(size_t(M) * N, seed++);
        auto C_ref = C0, C = C0;
        gemm_cpu_ref(p, A.data(), B.data(), C_ref.data());
        gemm_cpu_blas(p, A.data(), B.data(), C.data());
        SRGAN_REQUIRE_CLOSE(all_close(C, C_ref, 1e-12, 1e-12));  // double: rounding only
      }
}
