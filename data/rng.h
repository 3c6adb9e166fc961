// Counter-based random numbers for the data pipeline: every draw is a pure function of
// (seed, stream, counter), so a sample's crop and orientation depend only on the seed and the
// sample's number, never on thread timing, and a loader resumes exactly from (seed, sample).
// LAYOUT: no buffers; 64-bit integers only.
#pragma once
#include <cstdint>

namespace srgan::data {

// SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mix.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class CounterRng {
 public:
  CounterRng(uint64_t seed, uint64_t stream, uint64_t domain)
      : key_(splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ (domain * 0xD1B54A32D192ED03ull))) {}
  uint64_t next() { return splitmix64(key_ ^ splitmix64(ctr_++)); }
  // Uniform integer in [0, n), n >= 1, without modulo bias (rejection on the top bits).
  uint64_t below(uint64_t n) {
    if (n <= 1) return 0;
    const uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % n);
    uint64_t v;
    do v = next();
    while (v >= limit);
    return v % n;
  }

 private:
  uint64_t key_;
  uint64_t ctr_ = 0;
};

}  // namespace srgan::data
