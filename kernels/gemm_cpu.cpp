// Row-major GEMM on the CPU: a plain-loop reference, and OpenBLAS (cblas) for real work
// (the reference stands in when the build has no OpenBLAS).
#ifdef SRGAN_HAVE_OPENBLAS
#include <strings.h>
#include <cblas.h>
#endif

#include <mutex>
#include <string>
#include <vector>

#include "kernels/cpu_parallel.h"
#include "kernels/gemm.h"

namespace srgan::kern {

template <typename T>
void gemm_cpu_ref(const GemmParams& p, const T* A, const T* B, T* C) {
  for (int i = 0; i < p.M; ++i)
    for (int j = 0; j < p.N; ++j) {
      double acc = 0.0;
      for (int k = 0; k < p.K; ++k) {
        double a = p.transA ? A[int64_t(k) * p.lda + i] : A[int64_t(i) * p.lda + k];
        double b = p.transB ? B[int64_t(j) * p.ldb + k] : B[int64_t(k) * p.ldb + j];
        acc += a * b;
      }
      T& c = C[int64_t(i) * p.ldc + j];
      c = T(p.alpha * acc + (p.beta == 0.0 ? 0.0 : p.beta * double(c)));
    }
}

#ifdef SRGAN_HAVE_OPENBLAS
template <>
void gemm_cpu_blas<float>(const GemmParams& p, const float* A, const float* B, float* C) {
  if (p.M == 0 || p.N == 0) return;
  cblas_sgemm(CblasRowMajor, p.transA ? CblasTrans : CblasNoTrans, p.transB ? CblasTrans : CblasNoTrans,
              p.M, p.N, p.K, float(p.alpha), A, p.lda, B, p.ldb, float(p.beta), C, p.ldc);
}

template <>
void gemm_cpu_blas<double>(const GemmParams& p, const double* A, const double* B, double* C) {
  if (p.M == 0 || p.N == 0) return;
  cblas_dgemm(CblasRowMajor, p.transA ? CblasTrans : CblasNoTrans, p.transB ? CblasTrans : CblasNoTrans,
              p.M, p.N, p.K, p.alpha, A, p.lda, B, p.ldb, p.beta, C, p.ldc);
}

#else
template <typename T> void gemm_cpu_blas(const GemmParams& p, const T* A, const T* B, T* C) { gemm_cpu_ref(p, A, B, C); }
template void gemm_cpu_blas<float>(const GemmParams&, const float*, const float*, float*);
template void gemm_cpu_blas<double>(const GemmParams&, const double*, const double*, double*);
#endif

namespace {
// OpenBLAS at one thread per call while any batch runs, in any thread; the count is process-wide,
// so batches running at once share one saved value (a mutex and a depth count), and the last one
// out restores it, exceptions included. OpenBLAS keeps its threads, so restoring costs nothing.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() {
#ifdef SRGAN_HAVE_OPENBLAS
    std::lock_guard<std::mutex> lock(mu());
    if (depth()++ == 0) {
      saved() = openblas_get_num_threads();
      openblas_set_num_threads(1);
    }
#endif
  }
  ~SingleThreadedBlas() {
#ifdef SRGAN_HAVE_OPENBLAS
    std::lock_guard<std::mutex> lock(mu());
    if (--depth() == 0) openblas_set_num_threads(saved());
#endif
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  static std::mutex& mu() { static std::mutex m; return m; }
  static int& depth() { static int d = 0; return d; }
  static int& saved() { static int n = 0; return n; }
};
}  // namespace

template <typename T>
void gemm_cpu_blas_strided_batch(const GemmParams& p, int count, const T* A, int64_t strideA, const T* B,
                                 int64_t strideB, T* C, int64_t strideC) {
  SingleThreadedBlas one_thread_per_call;
  parallel_for(count, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) gemm_cpu_blas<T>(p, A + i * strideA, B + i * strideB, C + i * strideC);
  });
}
template void gemm_cpu_blas_strided_batch<float>(const GemmParams&, int, const float*, int64_t, const float*, int64_t,
                                                 float*, int64_t);
template void gemm_cpu_blas_strided_batch<double>(const GemmParams&, int, const double*, int64_t, const double*,
                                                  int64_t, double*, int64_t);

template void gemm_cpu_ref<float>(const GemmParams&, const float*, const float*, float*);
template void gemm_cpu_ref<double>(const GemmParams&, const double*, const double*, double*);

}  // namespace srgan::kern

namespace srgan::kern {
void gemm_cpu_set_threads(int n) {
#ifdef SRGAN_HAVE_OPENBLAS
  if (n > 0) openblas_set_num_threads(n);
#else
  (void)n;
#endif
}

// OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels from the CPU's family and model
// numbers. A CPU it does not know, or one a hypervisor reports without a model name ("Intel(R)
// Xeon(R) Processor"), gets the generic Prescott (SSE3) kernels even where AVX-512 is there:
// measured on such a VM, a GAN step of the 10x64 SRResNet at batch 8 took 3.9 s with Prescott
// and 1.45 s with SkylakeX (docs/performance.md). The instruction sets themselves decide here.
std::string gemm_cpu_better_core() {
#if defined(SRGAN_HAVE_OPENBLAS) && (defined(__x86_64__) || defined(__i386__))
  const char* core = openblas_get_corename();
  const std::string name = core ? core : "";
  static const char* generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                  "Coppermine", "Northwood", "Banias", "Barcelona", "Opteron", "Opteron_SSE3"};
  bool is_generic = false;
  for (const char* g : generic) is_generic |= strcasecmp(name.c_str(), g) == 0;
  if (!is_generic) return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "Sandybridge";
#endif
  return "";
}

std::string gemm_cpu_library() {
#ifdef SRGAN_HAVE_OPENBLAS
  const char* core = openblas_get_corename();
  return std::string("OpenBLAS (") + (core ? core : "?") + " kernels)";
#else
  return "reference loops (no OpenBLAS)";
#endif
}

}  // namespace srgan::kern
