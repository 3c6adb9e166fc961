// Linear (fully connected) forward, backward-data and backward-weight (+ bias gradient) on the GPU
// against the double-precision CPU reference, for every GemmAlgo (v1_smem_tiled, v2_tf32_mma,
// cublas in fp32 and with TF32 allowed): the discriminator's layers at batch 16 (18432 -> 1024,
// 1024 -> 1, and the small test configuration's 128 -> 16), M = 1, Out = 1, odd sizes that fit
// no tile, Out % 4 == 0 (the float4 bias path) with and without 16-byte alignment, no bias /
// no bias gradient, and the empty edge cases In = 0 (y = b) and M = 0 (dw = 0, db = 0), with
// NaN-poisoned outputs inside sentinel zones. Our kernels must also be deterministic.
#include <sstream>

#include "kernels/gemm_cublas.h"
#include "kernels/linear.h"
#include "tests/cuda/cuda_guard.h"

using namespace srgan::kern;
using namespace srgan::test;

namespace {

struct Variant {
  const char* name;
  GemmAlgo algo;
  bool tf32;  // cuBLAS with TF32 tensor cores allowed
};
const std::vector<Variant> kVariants =
    with_baselines<Variant>({{"v1_smem_tiled", GemmAlgo::v1_smem_tiled, false}, {"v2_tf32_mma", GemmAlgo::v2_tf32_mma, true}},
                            {{"cublas", GemmAlgo::cublas, false}, {"cublas tf32", GemmAlgo::cublas, true}});

// Sets cuBLAS's TF32 switch for one variant and restores the default (fp32) at scope exit.
struct CublasMode {
  explicit CublasMode(const Variant& v) { gemm_cublas_set_allow_tf32(v.algo == GemmAlgo::cublas && v.tf32); }
  ~CublasMode() { gemm_cublas_set_allow_tf32(false); }
};

// k products of inputs in [-1, 1] summed per output (cuda_test_util.h explains both formulas).
Tol tol_for(const Variant& v, double k) { return v.tf32 ? tol_tf32(k) : tol_fp32(k); }

struct Case {
  int M, In, Out;
  bool bias;
};

}  // namespace

TEST_CASE("linear CUDA for every GemmAlgo on discriminator and odd shapes with no stray writes", "[cuda][linear]") {
  const Case cases[] = {{1, 1, 1, true},    {3, 7, 5, true},      {17, 33, 65, true},  {5, 4, 8, true},
                        {5, 12, 8, false},  {1, 1024, 1, true},   {16, 1024, 1, true}, {16, 128, 16, true},
                        {2, 130, 66, true}, {16, 18432, 1024, true}};
  uint64_t seed = 9500;
  for (const Case& c : cases) {
    const double macs = double(c.M) * c.In * c.Out;
    if (small_only() && macs > 2e6) continue;
    for (int shift : {0, 1}) {
      if (shift && macs > 1e7) continue;  // the misaligned path once is enough for big shapes
      std::ostringstream os;
      os << "M=" << c.M << " In=" << c.In << " Out=" << c.Out << " bias=" << c.bias << " shift=" << shift;
      INFO(os.str());
      LinearParams p;
      p.M = c.M; p.In = c.In; p.Out = c.Out;
      const size_t nx = size_t(c.M) * c.In, nw = size_t(c.Out) * c.In, ny = size_t(c.M) * c.Out;
      const auto x = random_vector<float>(nx, seed++), w = random_vector<float>(nw, seed++);
      const auto b = random_vector<float>(size_t(c.Out), seed++), dy = random_vector<float>(ny, seed++);
      const auto xd = to_double(x), wd = to_double(w), bd = to_double(b), dyd = to_double(dy);
      std::vector<double> y_ref(ny), dx_ref(nx), dw_ref(nw), db_ref(size_t(c.Out));
      linear_forward_cpu<double>(p, xd.data(), wd.data(), c.bias ? bd.data() : nullptr, y_ref.data());
      linear_backward_data_cpu<double>(p, dyd.data(), wd.data(), dx_ref.data());
      linear_backward_weight_cpu<double>(p, xd.data(), dyd.data(), dw_ref.data(), db_ref.data());
      Guarded xb(x, shift), wb(w, shift), bb(b, shift), dyb(dy, shift);
      Guarded y(ny, shift), dx(nx, shift), dw(nw, shift), db(size_t(c.Out), shift);
      for (const Variant& v : kVariants) {
        INFO("variant " << v.name);
        CublasMode mode(v);
        y.poison();
        linear_forward_cuda(p, xb, wb, c.bias ? bb.get() : nullptr, y, v.algo, nullptr);
        const auto y1 = y.download();
        SRGAN_CHECK_CLOSE(compare(y1, y_ref, tol_for(v, c.In + 1)));  // + 1: the bias
        SRGAN_CHECK_GUARDS(y);
        dx.poison();
        linear_backward_data_cuda(p, dyb, wb, dx, v.algo, nullptr);
        SRGAN_CHECK_CLOSE(compare(dx.download(), dx_ref, tol_for(v, c.Out)));
        SRGAN_CHECK_GUARDS(dx);
        dw.poison();
        db.poison();
        linear_backward_weight_cuda(p, xb, dyb, dw, db, v.algo, nullptr);
        const auto dw1 = dw.download(), db1 = db.download();
        SRGAN_CHECK_CLOSE(compare(dw1, dw_ref, tol_for(v, c.M)));
        // The bias gradient is a column sum in fp32 partials whatever the GEMM variant.
        SRGAN_CHECK_CLOSE(compare(db1, db_ref, tol_fp32(c.M)));
        SRGAN_CHECK_GUARDS(dw);
        SRGAN_CHECK_GUARDS(db);
        // Without a bias gradient: dw the same, db left alone (still poisoned).
        dw.poison();
        db.poison();
        linear_backward_weight_cuda(p, xb, dyb, dw, nullptr, v.algo, nullptr);
        SRGAN_CHECK_CLOSE(compare(dw.download(), dw_ref, tol_for(v, c.M)));
        CHECK(std::isnan(db.download()[0]));
        SRGAN_CHECK_GUARDS(db);
        // Our kernels add in a fixed order (split-K partials included): same bits on a rerun.
        if (v.algo != GemmAlgo::cublas) {
          y.poison();
          linear_forward_cuda(p, xb, wb, c.bias ? bb.get() : nullptr, y, v.algo, nullptr);
          SRGAN_CHECK_CLOSE(same_bits(y.download(), y1));
          dw.poison();
          db.poison();
          linear_backward_weight_cuda(p, xb, dyb, dw, db, v.algo, nullptr);
          SRGAN_CHECK_CLOSE(same_bits(dw.download(), dw1));
          SRGAN_CHECK_CLOSE(same_bits(db.download(), db1));
        }
        // Inputs are read only.
        SRGAN_CHECK_GUARDS(xb);
        SRGAN_CHECK_GUARDS(wb);
        SRGAN_CHECK_GUARDS(dyb);
      }
    }
  }
  CHECK_FALSE(gemm_cublas_allow_tf32());  // restored for the other tests of this process
}

TEST_CASE("linear CUDA: empty reductions give the bias and zero gradients", "[cuda][linear]") {
  // Closed forms rather than the CPU reference (BLAS rejects a zero leading dimension):
  // In = 0: y[m, o] = b[o] exactly; dw is empty; db = column sums of dy.
  // M = 0: y and dx are empty; dw = 0 and db = 0 exactly (sums over no rows).
  for (const Variant& v : kVariants) {
    INFO("variant " << v.name);
    CublasMode mode(v);
    {
      LinearParams p;
      p.M = 3; p.In = 0; p.Out = 5;
      const auto b = random_vector<float>(5, 1), dy = random_vector<float>(15, 2);
      Guarded x(0), w(0), bb(b), y(15), dyb(dy), dx(0), dw(0), db(5);
      linear_forward_cuda(p, x, w, bb, y, v.algo, nullptr);
      std::vector<float> expect;
      for (int m = 0; m < 3; ++m) expect.insert(expect.end(), b.begin(), b.end());
      SRGAN_CHECK_CLOSE(same_bits(y.download(), expect));
      SRGAN_CHECK_GUARDS(y);
      linear_backward_data_cuda(p, dyb, w, dx, v.algo, nullptr);
      SRGAN_CHECK_GUARDS(dx);
      linear_backward_weight_cuda(p, x, dyb, dw, db, v.algo, nullptr);
      std::vector<double> db_ref(5, 0.0);
      for (int m = 0; m < 3; ++m)
        for (int o = 0; o < 5; ++o) db_ref[size_t(o)] += dy[size_t(m) * 5 + o];
      SRGAN_CHECK_CLOSE(compare(db.download(), db_ref, tol_fp32(3)));
      SRGAN_CHECK_GUARDS(dw);
      SRGAN_CHECK_GUARDS(db);
    }
    {
      LinearParams p;
      p.M = 0; p.In = 6; p.Out = 4;
      const auto w = random_vector<float>(24, 3);
      Guarded x(0), wb(w), y(0), dy(0), dx(0), dw(24), db(4);
      linear_forward_cuda(p, x, wb, nullptr, y, v.algo, nullptr);
      SRGAN_CHECK_GUARDS(y);
      linear_backward_data_cuda(p, dy, wb, dx, v.algo, nullptr);
      SRGAN_CHECK_GUARDS(dx);
      linear_backward_weight_cuda(p, x, dy, dw, db, v.algo, nullptr);
      SRGAN_CHECK_CLOSE(same_bits(dw.download(), std::vector<float>(24, 0.0f)));
      SRGAN_CHECK_CLOSE(same_bits(db.download(), std::vector<float>(4, 0.0f)));
      SRGAN_CHECK_GUARDS(dw);
      SRGAN_CHECK_GUARDS(db);
    }
  }
  LinearParams bad;
  bad.M = -1; bad.In = 2; bad.Out = 2;
  CHECK_THROWS(linear_forward_cuda(bad, nullptr, nullptr, nullptr, nullptr, GemmAlgo::v1_smem_tiled, nullptr));
}
