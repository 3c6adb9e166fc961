// Whole-network benchmarks, the same work as ../shared/bench/anchor_cpu.py and anchor_gpu.py:
// SRResNet inference at several sizes, the SRResNet MSE training step (G forward + backward +
// Adam) and the SRGAN step (D update then G update with the VGG54 loss, random weights).
// Medians of repeated runs after warm-up; on CUDA each run is synchronised before the clock.
// Training steps run through tools/train/step_runner.h (batch upload included). On CUDA every row is
// timed in fp32 (our smem-tiled conv, our fp32 GEMM) and with tensor cores (TF32 mma conv and
// GEMM), and training steps both eager and replayed as CUDA graphs (rows ending in _graph).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "tools/train/step_runner.h"

namespace srgan::app {

struct StepBenchOptions {
  Device device = Device::cpu;
  int batch = 4;        // training batch (anchor_cpu.py: 4; anchor_gpu.py: 16)
  int hr = 96;          // HR crop; LR is hr / 4
  int repeats = 5;
  int warmup = 1;        // untimed inference runs
  int step_warmup = 3;   // untimed training steps of an eager row (graph rows: at least graph_warmup + 1)
  int graph_warmup = 2;  // eager steps of a graph row before its capture (StepRunner's warm-up, >= 1)
  bool gan = false;     // also time the SRGAN step (needs a lot more work on a CPU)
  std::vector<int> infer_sizes = {64, 128};  // LR sides for inference
  std::vector<std::string> precisions = {"fp32"};  // CUDA: any of "fp32", "tf32", "bf16"
};

struct StepBenchRow {
  std::string name;
  double ms = 0.0;    // median (-1 when the row failed)
  std::string error;  // why the row failed, or empty
};

// One benchmark training step, ready to run: the networks with random weights, their optimizers
// and the step runner (batch o.batch, HR o.hr, LR o.hr / 4). gan: the SRGAN step (D update, then G
// update with VGG54 + 1e-3 adversarial); otherwise the SRResNet MSE step. step() fills the host
// batch with random data on its first two calls and runs one step. Also walked by
// `srgan bench counters --network` (bench_counters_network.cpp).
class BenchStep {
 public:
  virtual ~BenchStep() = default;
  virtual StepRunner& runner() = 0;
  void step(Rng& rng);

 private:
  int filled_ = 0;
};
std::unique_ptr<BenchStep> make_bench_step(bool gan, Device dev, const StepBenchOptions& o, GraphMode mode, Rng& rng);

// Runs the benchmarks in priority order (training steps, then inference, largest first) and
// hands each row to `on_row` as soon as it is measured; returns them all.
std::vector<StepBenchRow> bench_steps(const StepBenchOptions& opt,
                                      const std::function<void(const StepBenchRow&)>& on_row = {});

}  // namespace srgan::app
