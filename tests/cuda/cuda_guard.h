// Helpers for the CUDA kernel tests that check more than values: a device buffer whose view is
// surrounded by sentinel zones (a kernel writing outside its output is caught) and can be shifted
// off 16-byte alignment (forcing the scalar paths), and a bit-for-bit comparison that also tells
// -0.0 from +0.0 and compares infinities (all_close cannot: inf - inf is NaN).
#pragma once
#include <cstring>

#include "tests/cuda/cuda_test_util.h"

namespace srgan::test {

class Guarded {
 public:
  static constexpr size_t kGuard = 64;             // sentinel floats on each side
  static constexpr uint32_t kSentinel = 0x7FA5A5A5u;  // a NaN with a payload no kernel produces

  explicit Guarded(size_t n, int shift = 0) : n_(n), shift_(size_t(shift)), buf_(n + 2 * kGuard + 4) { poison(); }
  Guarded(const std::vector<float>& v, int shift = 0) : Guarded(v.size(), shift) { upload(v); }

  float* get() const { return buf_.get() + kGuard + shift_; }
  operator float*() const { return get(); }
  size_t size() const { return n_; }

  // Sentinels outside the view, NaN (0xFF bytes) inside.
  void poison() {
    std::vector<uint32_t> h(buf_.size(), kSentinel);
    for (size_t i = 0; i < n_; ++i) h[kGuard + shift_ + i] = 0xFFFFFFFFu;
    CUDA_CHECK(cudaMemcpy(buf_.get(), h.data(), h.size() * 4, cudaMemcpyHostToDevice));
  }
  // Sentinels outside the view, v inside.
  void upload(const std::vector<float>& v) {
    REQUIRE(v.size() == n_);
    poison();
    if (n_) CUDA_CHECK(cudaMemcpy(get(), v.data(), n_ * 4, cudaMemcpyHostToDevice));
  }
  std::vector<float> download() const {
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> v(n_);
    if (n_) CUDA_CHECK(cudaMemcpy(v.data(), get(), n_ * 4, cudaMemcpyDeviceToHost));
    return v;
  }
  // "ok" when every sentinel is intact, else where (relative to the view's start) the first
  // clobbered one lies.
  std::string guards() const {
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<uint32_t> h(buf_.size());
    CUDA_CHECK(cudaMemcpy(h.data(), buf_.get(), h.size() * 4, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < h.size(); ++i) {
      const bool inside = i >= kGuard + shift_ && i < kGuard + shift_ + n_;
      if (!inside && h[i] != kSentinel)
        return "wrote outside its output at offset " + std::to_string(int64_t(i) - int64_t(kGuard + shift_));
    }
    return "ok";
  }

 private:
  size_t n_, shift_;
  DevBuf buf_;
};

// Bit-for-bit equality (memcmp per element), with the first differing index in the message.
inline CloseReport same_bits(const std::vector<float>& got, const std::vector<float>& ref) {
  CloseReport r;
  if (got.size() != ref.size()) {
    r.ok = false;
    r.message = "size mismatch: " + std::to_string(got.size()) + " vs " + std::to_string(ref.size());
    return r;
  }
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &ref[i], 4) != 0) {
      r.ok = false;
      r.first_bad = int64_t(i);
      std::ostringstream os;
      os << "n=" << got.size() << " first differing bits at " << i << ": got " << got[i] << " expected " << ref[i];
      r.message = os.str();
      return r;
    }
  r.message = "n=" + std::to_string(got.size()) + " bitwise equal";
  return r;
}

#define SRGAN_CHECK_GUARDS(buf) CHECK((buf).guards() == std::string("ok"))

}  // namespace srgan::test
