// Shared by the step-runner tests (tests/test_step_runner.cpp on the CPU,
// tests/cuda/test_cuda_graph_step.cpp on a GPU): a seeded generator with its parameter arena
// and Adam, and random batches of the tests' shapes.
#pragma once
#include <algorithm>
#include <vector>

#include "core/adam.h"
#include "core/param_arena.h"
#include "core/random.h"
#include "models/srresnet.h"
#include "tests/test_common.h"
#include "tools/step_runner.h"

namespace srgan::test {

constexpr int kStepBatch = 4, kStepCrop = 32;
inline const Shape kStepLr{kStepBatch, kStepCrop / 4, kStepCrop / 4, 3}, kStepHr{kStepBatch, kStepCrop, kStepCrop, 3};

// SRResNet(blocks, width) from Rng(seed), moved to `device`, its parameters in an arena, Adam(lr).
struct SeededGenerator {
  Rng rng;
  SRResNet g;
  ParamArena arena;
  Adam opt;
  SeededGenerator(uint64_t seed, int blocks, int width, Device device, double lr = 1e-3)
      : rng(seed), g({blocks, width}, rng), arena(adopted(g, device)), opt(arena, lr) {}

 private:
  static ParamArena adopted(SRResNet& g, Device device) {
    g.to(device);
    ParamArena a;
    a.adopt(g.parameters(), device);
    return a;
  }
};

inline std::vector<float> batch_values(const Shape& s, uint64_t seed) {
  return random_vector<float>(size_t(shape_numel(s)), seed, 0.0, 1.0);
}

// Writes batch number `step` of the series `seed` into the runner's host buffers.
inline void feed(app::StepRunner& r, int step, uint64_t seed) {
  std::vector<float> lr = batch_values(r.lr().shape(), seed + 2 * step), hr = batch_values(r.hr().shape(), seed + 2 * step + 1);
  std::copy(lr.begin(), lr.end(), r.lr_host());
  std::copy(hr.begin(), hr.end(), r.hr_host());
}

}  // namespace srgan::test
