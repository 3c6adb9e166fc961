// Helpers for the model-level CUDA tests (test_models_cuda.cpp, test_train_cuda.cpp): three copies
// of a module built from one seed (float64 CPU = the reference, float32 CPU = our CPU path, float32
// CUDA = under test), the backend settings of a run, and the group comparison whose tolerance is
// explained at GroupCheck.
#pragma once
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/tensor.h"
#include "kernels/conv2d_cudnn.h"
#include "kernels/gemm_cublas.h"
#include "core/random.h"
#include "layers/module.h"
#include "models/discriminator.h"
#include "models/srresnet.h"
#include "tests/module_f64.h"
#include "tests/cuda/cuda_test_util.h"

namespace srgan::test {

// The small models of the model-level CUDA tests, drawn from Rng(seed).
inline std::unique_ptr<SRResNet> tiny_generator(uint64_t seed) {
  Rng rng(seed);
  return std::make_unique<SRResNet>(SRResNetConfig{2, 16}, rng);
}
inline std::unique_ptr<Discriminator> tiny_discriminator(uint64_t seed) {
  Rng rng(seed);
  DiscriminatorConfig c;
  c.crop = 32;
  c.width = 4;
  c.dense = 16;
  return std::make_unique<Discriminator>(c, rng);
}

// The float64 CPU reference, the float32 CPU copy and the float32 CUDA copy of one module, all
// built by make() from the same seed (so their initial weights are identical).
template <typename M> struct Three {
  std::unique_ptr<M> ref, cpu, gpu;
  template <typename Make> explicit Three(Make make) : ref(make()), cpu(make()), gpu(make()) {
    to_f64(*ref);
    gpu->to(Device::cuda);
  }
  template <typename F> void each(F f) {  // f(module, dtype, device)
    f(*ref, DType::f64, Device::cpu);
    f(*cpu, DType::f32, Device::cpu);
    f(*gpu, DType::f32, Device::cuda);
  }
};

// Inputs made once as floats, handed to each copy in its dtype and device.
inline Tensor as(const std::vector<float>& v, const Shape& s, DType t, Device d) {
  return t == DType::f64 ? Tensor::from_vector(to_double(v), s, d) : Tensor::from_vector(v, s, d);
}

// One algorithm set for the CUDA side (core/backend.h), restored at scope exit.
struct AlgoSet {
  const char* name;
  kern::ConvAlgo conv;
  kern::GemmAlgo gemm;
  kern::BatchNormAlgo bn;
  bool tf32;  // some product runs in TF32 (v3 conv or v2 GEMM)
};
struct UseAlgos {
  BackendConfig saved = backend();
  explicit UseAlgos(const AlgoSet& a) {
    backend().conv_algo = a.conv;
    backend().gemm_algo = a.gemm;
    backend().bn_algo = a.bn;
    kern::conv2d_cudnn_set_allow_tf32(false);  // the cuDNN / cuBLAS baselines in fp32
    kern::gemm_cublas_set_allow_tf32(false);
  }
  ~UseAlgos() { backend() = saved; }
};

// Compares a group of tensors (a model's outputs, or its parameter gradients, ...):
//   e_cuda <= max(16 * e_cpu32, rel * max(|ref_t|, 1e-2 * S))
// where e = |x - ref| in the group's norm (max: element-wise; l2: the whole tensor), ref is the
// float64 CPU result, e_cpu32 the error of our float32 CPU path on the same inputs (how far float32
// rounding legitimately moves this tensor through this network: CUDA may add in another order,
// not be much less accurate), |ref_t| the tensor's norm and S the largest norm in the group (so a
// tensor that is zero in exact arithmetic, such as the gradient of a conv bias feeding batch norm,
// is judged against the rounding noise of its group, not against 0). rel: 1e-5 for fp32 (~170
// float ulps of the tensor's largest element), more for cuDNN's transforms and for TF32, where the
// l2 norm is used for gradients: a TF32 error of ~1e-3 can move a pre-activation across the kink of
// a (P/Leaky)ReLU, changing a few gradient elements by O(1) but the whole tensor's l2 norm little.
class GroupCheck {
 public:
  enum class Norm { max, l2 };
  GroupCheck(std::string group, Norm norm, double rel) : group_(std::move(group)), norm_(norm), rel_(rel) {}

  void add(const std::string& name, const Tensor& ref, const Tensor& cpu32, const Tensor& gpu) {
    INFO(group_ << ": " << name);
    REQUIRE(ref.defined());
    REQUIRE(cpu32.defined());
    REQUIRE(gpu.defined());
    REQUIRE(gpu.shape() == ref.shape());
    Item it{name, ref.to_vector_f64(), cpu32.to_vector_f64(), gpu.to_vector_f64()};
    items_.push_back(std::move(it));
  }

  // Runs the checks (one CHECK per tensor) and prints the worst share of the tolerance used.
  void check() {
    double S = 0;
    for (const Item& it : items_) S = std::max(S, norm(it.ref, nullptr));
    double worst = 0;
    std::string worst_name;
    for (const Item& it : items_) {
      const double e_gpu = norm(it.gpu, &it.ref), e_cpu = norm(it.cpu, &it.ref);
      const double tol = std::max(16 * e_cpu, rel_ * std::max(norm(it.ref, nullptr), 1e-2 * S));
      std::ostringstream os;
      os << group_ << ": " << it.name << " (" << it.ref.size() << " values, " << (norm_ == Norm::max ? "max" : "l2")
         << " norm): |cuda - ref| " << e_gpu << ", |cpu32 - ref| " << e_cpu << ", |ref| " << norm(it.ref, nullptr)
         << ", group scale " << S << ", tolerance " << tol << first_bad(it, tol);
      INFO(os.str());
      CHECK(e_gpu <= tol);  // NaN fails
      const double share = e_gpu / tol;
      if (!(share <= worst)) worst = share, worst_name = it.name;
    }
    std::printf("  %-28s %3zu tensors, worst share of the tolerance %.3g (%s)\n", group_.c_str(), items_.size(), worst,
                worst_name.c_str());
  }

 private:
  struct Item {
    std::string name;
    std::vector<double> ref, cpu, gpu;
  };
  double norm(const std::vector<double>& a, const std::vector<double>* minus) const {
    double m = 0, s = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const double d = std::fabs(a[i] - (minus ? (*minus)[i] : 0.0));
      if (std::isnan(d)) return INFINITY;
      m = std::max(m, d);
      s += d * d;
    }
    return norm_ == Norm::max ? m : std::sqrt(s);
  }
  // For element-wise checks, where the worst element is.
  std::string first_bad(const Item& it, double tol) const {
    if (norm_ != Norm::max) return "";
    for (size_t i = 0; i < it.ref.size(); ++i)
      if (!(std::fabs(it.gpu[i] - it.ref[i]) <= tol)) {
        std::ostringstream os;
        os << "; first bad index " << i << ": cuda " << it.gpu[i] << " ref " << it.ref[i] << " cpu32 " << it.cpu[i];
        return os.str();
      }
    return "";
  }
  std::string group_;
  Norm norm_;
  double rel_;
  std::vector<Item> items_;
};

}  // namespace srgan::test
