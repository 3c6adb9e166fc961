// A small seeded random generator (splitmix64) whose whole state is one integer, so training
// can save and restore it for exact resume; plus tensor initialisers built on it.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace srgan {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next_u64();
  double uniform();                 // [0, 1)
  double uniform(double lo, double hi);
  double normal();                  // standard normal (Box-Muller, one value per call)
  uint64_t below(uint64_t n);       // [0, n)
  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

// Host-generated, then copied to the device: identical values on CPU and CUDA for one seed.
Tensor uniform_tensor(const Shape& shape, Rng& rng, double lo, double hi, DType dtype = DType::f32,
                      Device device = Device::cpu);
Tensor normal_tensor(const Shape& shape, Rng& rng, double stddev, DType dtype = DType::f32,
                     Device device = Device::cpu);

}  // namespace srgan
