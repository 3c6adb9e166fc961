// splitmix64 generator and random tensor initialisers.
#include "core/random.h"

#include <cmath>
#include <vector>

namespace srgan {

uint64_t Rng::next_u64() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Rng::uniform() { return double(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

double Rng::normal() {
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

uint64_t Rng::below(uint64_t n) { return n ? next_u64() % n : 0; }

namespace {
template <typename F> Tensor generate(const Shape& shape, DType dtype, Device device, F&& f) {
  std::vector<double> v(size_t(shape_numel(shape)));
  for (auto& e : v) e = f();
  Tensor t = Tensor::from_vector(v, shape, Device::cpu);
  if (dtype == DType::f32) t = t.to(DType::f32);
  return t.to(device);
}
}  // namespace

Tensor uniform_tensor(const Shape& shape, Rng& rng, double lo, double hi, DType dtype, Device device) {
  return generate(shape, dtype, device, [&] { return rng.uniform(lo, hi); });
}

Tensor normal_tensor(const Shape& shape, Rng& rng, double stddev, DType dtype, Device device) {
  return generate(shape, dtype, device, [&] { return stddev * rng.normal(); });
}

}  // namespace srgan
