// Row-major GEMM on the GPU (see gemm.h): C = alpha * op(A) * op(B) + beta * C.
//   v1_smem_tiled  64x64 shared-memory tiles, fp32 FMAs       (tile_gemm.cuh, ffma flavour)
//   v2_tf32_mma    the same tiles on TF32 tensor cores (mma)  (tile_gemm.cuh, tf32 flavour)
//   cublas         baseline (gemm_cublas.cu)
// op(A)(m, k) is A[m*lda + k] (k contiguous) or, transposed, A[k*lda + m] (m contiguous), and
// op(B)(k, n) is B[k*ldb + n] or, transposed, B[n*ldb + k]; tile_gemm's RowMajorK / RowMajorMN
// operands cover the four combinations. Few output tiles and a long K (the discriminator's
// 16 x 18432 -> 1024 linear layer) use split-K: partial products per K range, then an ordered
// sum (deterministic) that applies alpha and beta. C is not read when beta == 0, as in BLAS.
#include <stdexcept>
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"
#include "kernels/cuda_util.cuh"
#include "kernels/gemm.h"
#include "kernels/gemm_cublas.h"
#include "kernels/tile_gemm.cuh"

namespace srgan::kern {
namespace {
namespace tg = cuda::tg;

template <class OpA, class OpB>
void run(const GemmParams& p, tg::Flavour f, const tg::Problem<OpA, OpB>& pr, float* C, cudaStream_t s) {
  const tg::SplitPlan sp = tg::plan_splits(f, pr.M, pr.N, pr.Kred, 64);
  const tg::AlphaBetaEpi out{C, p.ldc, float(p.alpha), float(p.beta)};
  if (sp.splits == 1) {
    tg::launch_tile_gemm(f, pr.M, pr.N, pr.Kred, sp, pr.a, pr.b, out, s);
    return;
  }
  const int64_t mn = int64_t(pr.M) * pr.N;
  float* part = static_cast<float*>(cuda::workspace(sizeof(float) * size_t(sp.splits) * size_t(mn), s));
  tg::launch_tile_gemm(f, pr.M, pr.N, pr.Kred, sp, pr.a, pr.b, tg::PartialEpi{part, pr.N, mn}, s);
  tg::launch_splitk_reduce(pr.M, pr.N, sp.splits, part, out, s);
}

void check(const GemmParams& p) {
  if (p.M < 0 || p.N < 0 || p.K < 0) throw std::invalid_argument("gemm_cuda: negative size");
  const int a_cols = p.transA ? p.M : p.K, b_cols = p.transB ? p.K : p.N;
  if (p.lda < (a_cols > 1 ? a_cols : 1) || p.ldb < (b_cols > 1 ? b_cols : 1) || p.ldc < (p.N > 1 ? p.N : 1))
    throw std::invalid_argument("gemm_cuda: leading dimension smaller than the row length");
}

}  // namespace

void gemm_cuda(const GemmParams& p, const float* A, const float* B, float* C, GemmAlgo algo, Stream s) {
  check(p);
  if (p.M == 0 || p.N == 0) return;
  if (algo == GemmAlgo::cublas) return gemm_cublas(p, A, B, C, s);
  if (algo != GemmAlgo::v1_smem_tiled && algo != GemmAlgo::v2_tf32_mma)
    throw std::invalid_argument("gemm_cuda: unknown GemmAlgo " + std::to_string(int(algo)));
  const tg::Flavour f = algo == GemmAlgo::v2_tf32_mma ? tg::Flavour::tf32 : tg::Flavour::ffma;
  tg::with_gemm_problem(p, A, B, [&](const auto& pr) { run(p, f, pr, C, s); });
}

}  // namespace srgan::kern
