// The SRGAN training loop (Ledig et al. 2017), on the CPU or a CUDA device:
//   pretrain: SRResNet with the pixel MSE (the paper's SRResNet-MSE);
//   gan:      per step, one discriminator update (BCE on D(HR) vs D(G(LR)).detach()) then one
//             generator update (content loss + 1e-3 adversarial), content = VGG54 feature MSE when
//             --vgg weights are given, else pixel MSE (SRGAN-MSE).
// Loss values stay on the device and are read back once per log interval, then written to
// train_log.jsonl (one line per step, every term) and checked: a NaN or Inf stops training and
// names the step and the term; no checkpoint is written after the bad step, so the last one on
// disk is the last good one. Checkpoints (last.safetensors: G, D, both Adam states, step, loader
// position) are written atomically at every validation, at the end and on Ctrl-C; best.safetensors
// holds the generator with the best validation PSNR. --resume continues bit-exactly on the CPU.
// Steps run through tools/train/step_runner.h: batches uploaded from pinned memory, and on CUDA the step
// captured into CUDA graphs after two eager warm-up steps (--cuda-graph).
// Under mpirun each rank runs this loop on its share of every step's samples; gradients are
// averaged over ranks before each optimizer step, rank 0 alone writes (tools/train/data_parallel.h,
// docs/distributed.md). --accum K runs K micro-batches of --batch per step.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/losses.h"

namespace srgan::app {

struct TrainOptions {
  std::string data;                 // training images (DIV2K layout or any folder)
  std::string val;                  // validation folder ("" = none)
  std::string phase = "pretrain";   // pretrain | gan
  std::string init;                 // generator weights to start from (a best/last checkpoint)
  std::string vgg;                  // VGG19 weights (safetensors from tools/scripts/convert_vgg19.py)
  std::string out = "runs/srgan";
  std::string device = "auto";
  std::string precision = "fp32";   // fp32 | tf32 | bf16 (CUDA kernels; the CPU path is fp32)
  int64_t steps = 1000;
  int batch = 16;
  int crop = 96;
  double learning_rate = 1e-4;     // --lr, for G (and D unless d_learning_rate >= 0) (Adam)
  double d_learning_rate = -1;      // --d-lr: D's own rate (0 freezes D); < 0: the same as G's
  int64_t lr_halve_at = -1;         // after this many steps the learning rate is halved (-1: never)
  uint64_t seed = 0;
  bool resume = false;
  int blocks = 16, width = 64;      // generator
  int d_width = 64;                 // discriminator base width
  int log_every = 10;
  int64_t val_every = 500;
  int workers = 2;                  // data-loading threads
  int64_t cache_mb = 1024;          // decoded-image cache (DIV2K train needs ~7000 to fit whole)
  int patches_per_visit = 1;        // crops per image visit (fewer decodes when the cache is small)
  int threads = 0;                  // CPU GEMM threads (0 = all cores, shared among the ranks of a machine)
  int accum = 1;                    // micro-batches of `batch` per optimizer step (gradient accumulation)
  bool sync_bn = false;             // batch-norm statistics over all ranks (default: per rank, per micro-batch)
  double ema = -1;                  // decay of G's weight average (tools/train/ema.h); 0: none; < 0: 0.999 in
                                    // the GAN phase, none in pretraining
  std::string cuda_graph = "auto";  // auto | on | off: replay the step as CUDA graphs (CUDA only)
  LossWeights weights;
  bool quiet = false;               // no progress lines (tests)
};

// One step's loss terms as read back from the device.
struct StepRecord {
  int64_t step = 0;
  std::map<std::string, double> terms;
};

enum class TrainResult { finished = 0, non_finite = 3, interrupted = 130 };

// Runs training; throws srgan::Error / std::runtime_error for bad options, data or checkpoints.
// `history` (optional) receives every step's terms, `stop` (optional) is polled after each step
// (the command line points it at its SIGINT flag).
TrainResult train(const TrainOptions& opt, std::vector<StepRecord>* history = nullptr,
                  const std::atomic<bool>* stop = nullptr);

}  // namespace srgan::app
