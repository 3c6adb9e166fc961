// `srgan train`: parses the options into TrainOptions and runs tools/train/trainer.cpp's loop.
// Ctrl-C (or SIGTERM, which mpirun sends its ranks) asks the loop to stop after the current step
// and write a checkpoint. Under mpirun an error on any rank ends every rank of the job, naming it.
#include <atomic>
#include <csignal>
#include <cstdio>

#include "core/distributed.h"
#include "tools/cli/command.h"
#include "tools/train/trainer.h"

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

int run(const srgan::cli::Args& a) {
  a.allow_only({"data", "val", "phase", "init", "vgg", "steps", "batch", "crop", "lr", "lr-halve-at", "device", "seed",
                "out", "resume", "blocks", "width", "d-width", "log-every", "val-every", "workers", "threads",
                "adv-weight", "mse-weight", "cache-mb", "patches-per-visit", "cuda-graph", "accum", "sync-bn", "ema", "d-lr",
                "grad-weight", "fm-weight", "label-smooth", "lowfreq-weight",
                "pattern-weight", "precision"});
  srgan::app::TrainOptions o;
  o.data = a.get("data", "");
  if (o.data.empty()) throw std::runtime_error("--data DIR is required (a DIV2K folder or any folder of images)");
  o.val = a.get("val", "");
  o.phase = a.get("phase", o.phase);
  o.init = a.get("init", "");
  o.vgg = a.get("vgg", "");
  o.steps = a.get_int("steps", o.steps);
  o.batch = a.get_int32("batch", o.batch);
  o.crop = a.get_int32("crop", o.crop);
  o.learning_rate = a.get_double("lr", o.learning_rate);
  o.lr_halve_at = a.get_int("lr-halve-at", o.lr_halve_at);
  o.device = a.get("device", o.device);
  o.precision = a.get("precision", o.precision);
  o.seed = uint64_t(a.get_int("seed", 0));
  o.out = a.get("out", o.out);
  o.resume = a.has("resume");
  o.blocks = a.get_int32("blocks", o.blocks);
  o.width = a.get_int32("width", o.width);
  o.d_width = a.get_int32("d-width", o.d_width);
  o.log_every = a.get_int32("log-every", o.log_every);
  o.val_every = a.get_int("val-every", o.val_every);
  o.workers = a.get_int32("workers", o.workers);
  o.threads = a.get_int32("threads", o.threads);
  o.cache_mb = a.get_int("cache-mb", o.cache_mb);
  o.patches_per_visit = a.get_int32("patches-per-visit", o.patches_per_visit);
  o.cuda_graph = a.get("cuda-graph", o.cuda_graph);
  o.weights.adversarial = a.get_double("adv-weight", o.weights.adversarial);
  o.weights.mse_with_vgg = a.get_double("mse-weight", o.weights.mse_with_vgg);
  o.accum = a.get_int32("accum", o.accum);
  o.sync_bn = a.has("sync-bn");
  o.ema = a.get_double("ema", o.ema);
  o.d_learning_rate = a.get_double("d-lr", o.d_learning_rate);
  o.weights.gradient_l1 = a.get_double("grad-weight", o.weights.gradient_l1);
  o.weights.feature_match = a.get_double("fm-weight", o.weights.feature_match);
  o.weights.low_frequency_l1 = a.get_double("lowfreq-weight", o.weights.low_frequency_l1);
  o.weights.phase_mean_l1 = a.get_double("pattern-weight", o.weights.phase_mean_l1);
  o.weights.real_label = 1.0 - a.get_double("label-smooth", 1.0 - o.weights.real_label);
  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
  srgan::ProcessGroup& group = srgan::process_group();  // joins the job's ranks under mpirun
  try {
    return int(srgan::app::train(o, nullptr, &g_interrupted));
  } catch (const std::exception& e) {
    if (!group.launched()) throw;
    group.abort(std::string("error: ") + e.what());  // the others would wait for this rank forever
  }
}

SRGAN_COMMAND(srgan::cli::Command{
    "train", "train SRResNet (MSE pre-training) or SRGAN (adversarial) on a folder of images",
    "usage: srgan train --data DIR [options]\n"
    "  --data DIR          training images: a DIV2K folder as downloaded, or any folder of images\n"
    "  --phase P           pretrain (SRResNet, pixel MSE; default) or gan (SRGAN: D step + G step)\n"
    "  --val DIR           validation folder: PSNR/SSIM (Y, border 4), sample grid, best checkpoint\n"
    "  --init FILE         generator weights to start from (e.g. the pretrain run's best.safetensors)\n"
    "  --vgg FILE          VGG19 weights (tools/scripts/convert_vgg19.py) for the VGG54 content loss;\n"
    "                      without it the GAN phase uses pixel MSE as content loss (SRGAN-MSE)\n"
    "  --steps N           total steps (default 1000)     --batch N     (default 16)\n"
    "  --crop N            HR crop side (default 96)      --lr X        Adam learning rate (1e-4)\n"
    "  --lr-halve-at N     halve the learning rate after N steps (step N+1 on)\n"
    "  --d-lr X            D's learning rate (default: --lr; 0 freezes D), halved with G's\n"
    "  --device D          auto | cpu | cuda (default auto)\n"
    "  --precision P       fp32 | tf32 | bf16: CUDA conv and GEMM kernels (default fp32; the CPU is fp32)\n"
    "  --cuda-graph M      auto | on | off: replay each step as CUDA graphs after 2 eager steps\n"
    "                      (auto: fall back to eager steps if capture fails; default auto)\n"
    "  --seed S            data order and initialisation (default 0)\n"
    "  --out DIR           run folder (default runs/srgan): train_log.jsonl, last/best.safetensors, samples\n"
    "  --resume            continue from DIR/last.safetensors exactly where it stopped\n"
    "  --blocks N --width N        generator size (16, 64)      --d-width N  discriminator width (64)\n"
    "  --log-every N --val-every N progress line / validation+checkpoint interval (10, 500)\n"
    "  --workers N         data-loading threads (2)           --threads N  CPU GEMM threads (all)\n"
    "  --adv-weight X      adversarial weight (1e-3)          --mse-weight X  pixel MSE beside VGG (0)\n"
    "  --grad-weight X     Sobel gradient L1 in the content loss (0)   --fm-weight X  D feature\n"
    "                      matching in G's loss (0)   --label-smooth S  D's target for HR is 1-S (0)\n"
    "  --lowfreq-weight X  L1 of 4x4 block means in the content loss: holds colour (0)\n"
    "  --pattern-weight X  L1 of each crop's 16 phase means (y, x mod 4): no checkerboard, no cast (0)\n"
    "  --cache-mb N        decoded-image cache (1024; full DIV2K train needs ~7000)\n"
    "  --accum K           K micro-batches of --batch per optimizer step (gradients summed, then averaged)\n"
    "  --sync-bn           under mpirun: batch-norm statistics over all ranks (default: per rank)\n"
    "  --ema D             validate and save an average of G's weights, decay D (GAN phase: 0.999;\n"
    "                      pretraining: 0, none)\n"
    "data parallel: mpirun -np N srgan train ... (each rank a share of every step; docs/distributed.md)\n"
    "  --patches-per-visit N  crops per image decode when the cache is too small (1)\n"
    "exit status: 0 done, 3 stopped on a NaN/Inf loss, 130 interrupted (checkpoint written)",
    &run, {"resume", "sync-bn"}});

}  // namespace
