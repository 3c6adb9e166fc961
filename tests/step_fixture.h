// Shared by the step-runner tests (tests/test_step_runner.cpp on the CPU,
// tests/cuda/test_cuda_graph_step.cpp on a GPU): seeded generators (and discriminators) with their
// parameter arenas and Adam, and random batches of the tests' shapes.
#pragma once
#include <algorithm>
#include <vector>

#include "core/adam.h"
#include "core/param_arena.h"
#include "core/random.h"
#include "models/discriminator.h"
#include "models/srresnet.h"
#include "tests/test_common.h"
#include "tools/train/step_runner.h"

namespace srgan::test {

constexpr int kStepBatch = 4, kStepCrop = 32;
inline const Shape kStepLr{kStepBatch, kStepCrop / 4, kStepCrop / 4, 3}, kStepHr{kStepBatch, kStepCrop, kStepCrop, 3};

// A module with its parameters in an arena on `device` and Adam(lr) over them.
template <typename Net> struct Trainable {
  Net net;
  ParamArena arena;
  Adam opt;
  template <typename Config>
  Trainable(const Config& cfg, Rng& rng, Device device, double lr) : net(cfg, rng), arena(adopted(net, device)), opt(arena, lr) {}

 private:
  static ParamArena adopted(Net& net, Device device) {
    net.to(device);
    ParamArena a;
    a.adopt(net.parameters(), device);
    return a;
  }
};

// SRResNet(blocks, width) drawn from Rng(seed).
struct SeededGenerator {
  Rng rng;
  Trainable<SRResNet> g;
  SeededGenerator(uint64_t seed, int blocks, int width, Device device, double lr = 1e-3)
      : rng(seed), g(SRResNetConfig{blocks, width}, rng, device, lr) {}
};

// SRResNet(blocks, width), then a discriminator of crop kStepCrop, drawn from one Rng(seed).
struct SeededGan {
  Rng rng;
  Trainable<SRResNet> g;
  Trainable<Discriminator> d;
  SeededGan(uint64_t seed, int blocks, int width, int d_width, int d_dense, Device device, double lr = 1e-3)
      : rng(seed), g(SRResNetConfig{blocks, width}, rng, device, lr), d(d_config(d_width, d_dense), rng, device, lr) {}

 private:
  static DiscriminatorConfig d_config(int width, int dense) {
    DiscriminatorConfig dc;
    dc.crop = kStepCrop;
    dc.width = width;
    dc.dense = dense;
    return dc;
  }
};

inline std::vector<float> batch_values(const Shape& s, uint64_t seed) {
  return random_vector<float>(size_t(shape_numel(s)), seed, 0.0, 1.0);
}

// Writes batch number `step` of the series `seed` into the runner's host buffers.
inline void feed(app::StepRunner& r, int step, uint64_t seed) {
  std::vector<float> lr = batch_values(r.low_res().shape(), seed + 2 * step);
  std::vector<float> hr = batch_values(r.high_res().shape(), seed + 2 * step + 1);
  std::copy(lr.begin(), lr.end(), r.low_res_host());
  std::copy(hr.begin(), hr.end(), r.high_res_host());
}

}  // namespace srgan::test
