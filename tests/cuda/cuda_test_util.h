// Helpers for the CUDA tests (tests/cuda/test_*.cu): device buffers that upload, download and
// poison themselves, and float <-> double conversion for the double-precision CPU references.
// Every output buffer is poisoned with 0xFF bytes (a NaN in every float) before each run, so an
// element the kernel forgot to write fails the comparison.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/cuda_check.h"
#include "tests/test_common.h"

namespace srgan::test {

class DevBuf {
 public:
  DevBuf() = default;
  explicit DevBuf(size_t n) : n_(n) { CUDA_CHECK(cudaMalloc(&p_, bytes())); }
  explicit DevBuf(const std::vector<float>& v) : DevBuf(v.size()) { upload(v); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  DevBuf(DevBuf&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  ~DevBuf() { if (p_) (void)cudaFree(p_); }

  float* get() const { return p_; }
  operator float*() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ ? n_ * sizeof(float) : 4; }

  void upload(const std::vector<float>& v) {
    REQUIRE(v.size() == n_);
    if (n_) CUDA_CHECK(cudaMemcpy(p_, v.data(), n_ * sizeof(float), cudaMemcpyHostToDevice));
  }
  void poison() { CUDA_CHECK(cudaMemset(p_, 0xFF, bytes())); }  // every float becomes NaN
  std::vector<float> download() const {
    CUDA_CHECK(cudaDeviceSynchronize());  // also surfaces asynchronous kernel errors here
    std::vector<float> v(n_);
    if (n_) CUDA_CHECK(cudaMemcpy(v.data(), p_, n_ * sizeof(float), cudaMemcpyDeviceToHost));
    return v;
  }

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

// SRGAN_TEST_SMALL=1 (set by tools/scripts/gpu_check.sh for its compute-sanitizer pass, which runs
// kernels 10-100x slower) keeps only the small shapes.
inline bool small_only() {
  const char* e = std::getenv("SRGAN_TEST_SMALL");
  return e && *e && *e != '0';
}

inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// cuDNN and cuBLAS run only on a real GPU: the CUDA emulator (tests/cuda_emu) has neither.
inline bool baselines_available() {
#ifdef SRGAN_CUDA_EMU
  return false;
#else
  return true;
#endif
}

// The variants a test runs: ours, plus the cuDNN/cuBLAS baselines where they can run.
template <class T>
std::vector<T> with_baselines(std::vector<T> ours, std::initializer_list<T> baselines) {
  if (baselines_available()) ours.insert(ours.end(), baselines);
  return ours;
}

// Both an absolute and a relative part: |got - ref| <= atol + rtol * |ref|.
struct Tol {
  double atol, rtol;
};

// fp32 accumulation of `k` products of unit-magnitude terms (inputs in [-1, 1]) in an order
// other than the reference's: rounding grows at most ~k ulps of the partial sums; 1e-6 * k
// keeps a >100x margin over the typical error and still flags one missing product (~0.25).
inline Tol tol_fp32(double k) { return {1e-6 * k + 1e-6, 1e-5}; }
// TF32 rounds each input to 10 mantissa bits (relative error <= 2^-11); the error of a sum of
// k products behaves like a random walk, ~0.3 * 2^-11 * sqrt(k) per output and ~5x that at the
// tail of a million outputs; 2^-8 * sqrt(k) leaves a further ~6x margin, plus the fp32 term.
inline Tol tol_tf32(double k) { return {std::ldexp(1.0, -8) * std::sqrt(k) + 1e-6 * k, 1e-3}; }
// BF16 rounds each input to 7 mantissa bits (relative error <= 2^-8, 8x TF32's): the same
// random-walk reasoning, 8x the bound.
inline Tol tol_bf16(double k) { return {std::ldexp(1.0, -5) * std::sqrt(k) + 1e-6 * k, 8e-3}; }

// CHECK (not REQUIRE) so one run reports every failing variant and shape.
#define SRGAN_CHECK_CLOSE(report_expr)          \
  do {                                          \
    auto _rep = (report_expr);                  \
    INFO(_rep.message);                         \
    CHECK(_rep.ok);                             \
  } while (0)

inline CloseReport compare(const std::vector<float>& got, const std::vector<double>& ref, Tol t) {
  return all_close(got, ref, t.atol, t.rtol);
}

// For results computed with one float rounding per element (a product, a copy): the double
// reference rounded once to float must equal `got` exactly.
inline CloseReport compare_rounded_once(const std::vector<float>& got, const std::vector<double>& ref) {
  std::vector<double> rounded(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) rounded[i] = double(float(ref[i]));
  return all_close(got, rounded, 0.0, 0.0);
}

// True when the two vectors are bitwise equal (NaN-poisoned elements compare unequal).
inline CloseReport bitwise_equal(const std::vector<float>& got, const std::vector<float>& ref) {
  return all_close(got, ref, 0.0, 0.0);
}

}  // namespace srgan::test
