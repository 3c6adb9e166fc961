// gemm and linear on the GPU against the double-precision CPU reference, for every GemmAlgo
// (v1_smem_tiled, v2_tf32_mma, cublas): all four transpose combinations, padded leading
// dimensions, alpha/beta, odd sizes, split-K shapes (few output tiles, long K), and the
// discriminator's linear layers. Outputs are NaN-poisoned before each run (with beta == 0 the
// poison must not leak: C is not read).
#include <algorithm>
#include <sstream>
#include <type_traits>

#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "tests/gemm_case.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;

namespace {

const std::vector<GemmAlgo> kAlgos =
    with_baselines<GemmAlgo>({GemmAlgo::v1_smem_tiled, GemmAlgo::v2_tf32_mma}, {GemmAlgo::cublas});

const char* name(GemmAlgo a) {
  switch (a) {
    case GemmAlgo::v1_smem_tiled: return "v1_smem_tiled";
    case GemmAlgo::v2_tf32_mma: return "v2_tf32_mma";
    case GemmAlgo::cublas: return "cublas";
  }
  return "?";
}

Tol tol_for(GemmAlgo a, double k, double scale = 1.0) {
  Tol t = a == GemmAlgo::v2_tf32_mma ? tol_tf32(k) : tol_fp32(k);
  return {t.atol * scale, t.rtol};
}

using Case = srgan::test::GemmCase;

}  // namespace

TEST_CASE("gemm CUDA variants match the CPU reference", "[cuda][gemm]") {
  const Case cases[] = {
      {false, false, 1, 1, 1, 0, 1.0, 0.0},      {false, false, 7, 5, 3, 0, 1.0, 0.0},
      {false, true, 33, 65, 17, 0, 1.0, 0.0},    {true, false, 65, 33, 129, 0, 1.0, 0.0},
      {true, true, 64, 64, 64, 0, 1.0, 0.0},     {false, false, 100, 70, 50, 3, 0.5, 0.0},
      {false, true, 128, 128, 256, 4, 1.0, 1.0}, {true, false, 31, 97, 300, 1, -2.0, 0.5},
      {true, true, 200, 10, 1000, 2, 1.0, -1.0}, {false, false, 16, 1024, 18432, 0, 1.0, 0.0},  // D fc1
      {false, true, 16, 1, 1024, 0, 1.0, 0.0},   {true, false, 1024, 512, 16, 0, 1.0, 0.0},
      {false, false, 8, 8, 0, 0, 1.0, 0.5},  // K = 0: C = beta * C
  };
  uint64_t seed = 3000;
  for (const Case& c : cases) {
    if (small_only() && double(c.M) * c.N * c.K > 2e6) continue;
    std::ostringstream os;
    os << "transA=" << c.ta << " transB=" << c.tb << " M=" << c.M << " N=" << c.N << " K=" << c.K
       << " pad=" << c.pad << " alpha=" << c.alpha << " beta=" << c.beta;
    INFO(os.str());
    const GemmParams p = c.params();
    const auto A = random_vector<float>(size_t(c.a_rows()) * p.lda, seed++);
    const auto B = random_vector<float>(size_t(c.b_rows()) * p.ldb, seed++);
    const auto C0 = random_vector<float>(size_t(c.M) * p.ldc, seed++);
    std::vector<double> ref = to_double(C0);
    const auto Ad = to_double(A), Bd = to_double(B);
    gemm_cpu_ref<double>(p, Ad.data(), Bd.data(), ref.data());
    // With beta == 0 the output starts as NaN poison, so only the M x N product is compared;
    // otherwise the whole buffer, which also checks that the ldc padding is left untouched.
    auto view = [&](const auto& v) {
      std::vector<typename std::decay_t<decltype(v)>::value_type> o;
      for (int i = 0; i < c.M; ++i)
        for (int j = 0; j < c.N; ++j) o.push_back(v[size_t(i) * p.ldc + j]);
      return o;
    };
    const std::vector<double> ref_cmp = c.beta == 0.0 ? view(ref) : ref;
    // |beta * C| <= |beta| adds one more rounding of that size.
    const double k_eff = c.K + (c.beta != 0.0 ? 1 : 0);
    const double scale = std::abs(c.alpha) + std::abs(c.beta);
    DevBuf a(A), b(B), cbuf(C0.size());
    for (GemmAlgo algo : kAlgos) {
      INFO("algo " << name(algo));
      if (c.beta == 0.0) cbuf.poison();
      else cbuf.upload(C0);
      gemm_cuda(p, a, b, cbuf, algo, nullptr);
      const auto got = cbuf.download();
      SRGAN_CHECK_CLOSE(compare(c.beta == 0.0 ? view(got) : got, ref_cmp, tol_for(algo, k_eff, scale)));
    }
  }
}

TEST_CASE("linear CUDA matches the CPU reference", "[cuda][linear]") {
  struct LCase { int M, In, Out; bool bias; };
  const LCase cases[] = {{16, 18432, 1024, true}, {16, 1024, 1, true}, {3, 5, 7, true}, {5, 12, 9, false}};
  uint64_t seed = 6000;
  for (const LCase& c : cases) {
    if (small_only() && double(c.M) * c.In * c.Out > 2e6) continue;
    INFO("M=" << c.M << " In=" << c.In << " Out=" << c.Out << " bias=" << c.bias);
    LinearParams p;
    p.M = c.M;
    p.In = c.In;
    p.Out = c.Out;
    const auto x = random_vector<float>(size_t(c.M) * c.In, seed++);
    const auto w = random_vector<float>(size_t(c.Out) * c.In, seed++);
    const auto bv = random_vector<float>(size_t(c.Out), seed++);
    const auto dy = random_vector<float>(size_t(c.M) * c.Out, seed++);
    const auto xd = to_double(x), wd = to_double(w), bd = to_double(bv), dyd = to_double(dy);
    std::vector<double> y_ref(size_t(c.M) * c.Out), dx_ref(x.size()), dw_ref(w.size()), db_ref(size_t(c.Out));
    linear_forward_cpu<double>(p, xd.data(), wd.data(), c.bias ? bd.data() : nullptr, y_ref.data());
    linear_backward_data_cpu<double>(p, dyd.data(), wd.data(), dx_ref.data());
    linear_backward_weight_cpu<double>(p, xd.data(), dyd.data(), dw_ref.data(), db_ref.data());
    DevBuf xb(x), wb(w), bb(bv), dyb(dy), y(y_ref.size()), dx(x.size()), dw(w.size()), db(size_t(c.Out));
    for (GemmAlgo algo : kAlgos) {
      INFO("algo " << name(algo));
      y.poison();
      linear_forward_cuda(p, xb, wb, c.bias ? bb.get() : nullptr, y, algo, nullptr);
      SRGAN_CHECK_CLOSE(compare(y.download(), y_ref, tol_for(algo, c.In + 1)));
      dx.poison();
      linear_backward_data_cuda(p, dyb, wb, dx, algo, nullptr);
      SRGAN_CHECK_CLOSE(compare(dx.download(), dx_ref, tol_for(algo, c.Out)));
      dw.poison();
      db.poison();
      linear_backward_weight_cuda(p, xb, dyb, dw, db, algo, nullptr);
      SRGAN_CHECK_CLOSE(compare(dw.download(), dw_ref, tol_for(algo, c.M)));
      SRGAN_CHECK_CLOSE(compare(db.download(), db_ref, tol_fp32(c.M)));
    }
  }
}
