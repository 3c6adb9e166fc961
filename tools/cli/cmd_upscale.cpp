// `srgan upscale INPUT... -o OUT`: 4x super-resolution of images or folders with a trained
// generator, tiled so any image size fits in bounded memory (tools/upscale/tiled_upscaler.h).
// Gray stays gray, alpha is upscaled separately with bicubic and put back, 16-bit PNG stays
// 16-bit; output is PNG, written atomically. A failing image is reported and the others go on.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/backend.h"
#include "core/check.h"
#include "tools/cli/command.h"
#include "tools/upscale/model_file.h"
#include "tools/upscale/tensor_image.h"
#include "tools/upscale/upscale_files.h"

using namespace srgan;

namespace {

int run(const cli::Args& a) {
  a.allow_only({"o", "model", "tile", "tile-overlap", "device", "threads", "overwrite", "memory-mb", "precision"});
  if (a.positional().empty()) throw Error("no input given (usage: srgan upscale INPUT... -o OUT)");
  const std::string out = a.get("o", "");
  if (out.empty()) throw Error("-o OUT is required (an output file, or a folder for several inputs)");
  app::TileOptions topt;
  topt.tile = a.get_int32("tile", topt.tile);
  topt.overlap = a.get_int32("tile-overlap", std::min(topt.overlap, topt.tile / 2));  // small tiles: half
  if (topt.tile < 1 || topt.overlap < 0 || topt.overlap >= topt.tile)
    throw Error("--tile must be >= 1 and --tile-overlap in [0, tile)");
  const int64_t memory_mb = a.get_int("memory-mb", topt.memory_budget >> 20);
  if (memory_mb < 64 || memory_mb > (int64_t(1) << 30)) throw Error("--memory-mb must be at least 64");
  topt.memory_budget = memory_mb << 20;
  cli::apply_threads_option(a);
  const Device dev = app::parse_device(a.get("device", "auto"));
  app::apply_precision(dev, a.get("precision", "fp32"));
  const std::string model_path = a.get("model", app::default_model_path());
  std::unique_ptr<SRResNet> g = app::load_generator(model_path, dev);

  std::vector<app::UpscaleJob> jobs = app::plan_upscale_jobs(a.positional(), out, a.has("overwrite"));
  int failed = 0;
  for (auto& job : jobs) {
    auto t0 = std::chrono::steady_clock::now();
    try {
      app::upscale_file(*g, job, topt, dev, true);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%s -> %s (%.2f s)\n", job.in.c_str(), job.out.c_str(), s);
    } catch (const std::exception& e) {
      ++failed;
      const std::string what = e.what();  // most errors name the file already
      if (what.find(job.in) != std::string::npos) std::fprintf(stderr, "srgan upscale: %s\n", what.c_str());
      else std::fprintf(stderr, "srgan upscale: %s: %s\n", job.in.c_str(), what.c_str());
    }
  }
  if (failed) {
    std::fprintf(stderr, "srgan upscale: %d of %zu images failed\n", failed, jobs.size());
    return 1;
  }
  return 0;
}

SRGAN_COMMAND(cli::Command{
    "upscale", "4x upscale images or folders with a trained generator (tiled, any size)",
    "usage: srgan upscale INPUT... -o OUT [options]\n"
    "  INPUT             image files (PNG 8/16-bit, JPEG, BMP) or folders of them\n"
    "  -o OUT            output PNG for one input file; a folder (<name>_x4.png) otherwise\n"
    "  --model FILE      generator weights (default: the bundled model, models/pretrained/)\n"
    "  --tile N          LR tile side (default 256); smaller tiles need less memory, run slower\n"
    "  --memory-mb N     bound on the memory used (default 1536): wide images get shorter tiles,\n"
    "                    an image that cannot fit is refused before any work, with the MB it needs\n"
    "  --tile-overlap N  LR pixels shared by neighbouring tiles, blended (default 32)\n"
    "  --device D        auto | cpu | cuda (default auto)\n"
    "  --precision P     fp32 | tf32 | bf16: CUDA conv and GEMM kernels (default fp32; the CPU is fp32)\n"
    "  --threads N       CPU threads for the GEMMs (default: all cores)\n"
    "  --overwrite       replace output files that exist (never an input: that is always refused)\n"
    "Gray stays gray; alpha is upscaled with bicubic and kept; 16-bit PNG stays 16-bit.\n"
    "A failing image is reported and the rest are processed (exit status 1 if any failed).",
    &run, {"overwrite"}});

}  // namespace
