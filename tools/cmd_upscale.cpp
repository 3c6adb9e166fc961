// `srgan upscale INPUT... -o OUT`: 4x super-resolution of images or folders with a trained
// generator, tiled so any image size fits in bounded memory (tools/tiled_upscaler.h).
// Gray stays gray, alpha is upscaled separately with bicubic and put back, 16-bit PNG stays
// 16-bit; output is PNG, written atomically. A failing image is reported and the others go on.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/backend.h"
#include "core/check.h"
#include "data/image_folder.h"
#include "data/image_io.h"
#include "data/resize.h"
#include "tools/command.h"
#include "tools/model_file.h"
#include "tools/tensor_image.h"
#include "tools/tiled_upscaler.h"

namespace fs = std::filesystem;
using namespace srgan;

namespace {

struct Job {
  std::string in, out;
};

// Inputs (files and folders) -> (input, output) pairs. One file and an OUT that is not an
// existing folder: OUT is the output file. Otherwise OUT is a folder of <stem>_x4.png files.
std::vector<Job> plan_jobs(const std::vector<std::string>& inputs, const std::string& out) {
  std::vector<std::string> files;
  for (auto& in : inputs) {
    if (fs::is_directory(in)) {
      auto list = data::list_image_files(in);
      if (list.empty()) throw Error("input folder " + in + " holds no image files");
      files.insert(files.end(), list.begin(), list.end());
    } else {
      files.push_back(in);  // a missing file is reported when it is processed
    }
  }
  const bool single_file = files.size() == 1 && !fs::is_directory(inputs[0]) && !fs::is_directory(out) &&
                           !out.empty() && out.back() != '/';
  std::vector<Job> jobs;
  if (single_file) {
    jobs.push_back({files[0], out});
  } else {
    fs::create_directories(out);
    for (auto& f : files) jobs.push_back({f, (fs::path(out) / (fs::path(f).stem().string() + "_x4.png")).string()});
  }
  return jobs;
}

// Upscales one file; throws with a message naming it.
void upscale_file(SRResNet& g, const Job& job, const app::TileOptions& topt, Device dev, bool show_progress) {
  const data::ImageInfo info = data::read_image_info(job.in);
  const bool sixteen = info.bits == 16;
  data::ReadOptions ro;
  ro.channels = data::ChannelMode::Stored;
  // Everything in float [0, 1]: colour (H, W, 3) and alpha (H, W, 1) planes.
  int C = 0, W = 0, H = 0;
  std::vector<float> px;  // (H, W, C)
  if (sixteen) {
    data::Image16 im = data::read_image16(job.in, ro);
    C = im.channels; W = im.width; H = im.height;
    px.resize(im.size());
    for (size_t i = 0; i < im.size(); ++i) px[i] = float(im.data[i]) / 65535.0f;
  } else {
    data::Image im = data::read_image(job.in, ro);
    C = im.channels; W = im.width; H = im.height;
    px.resize(im.size());
    for (size_t i = 0; i < im.size(); ++i) px[i] = float(im.data[i]) / 255.0f;
  }
  const bool has_alpha = C == 2 || C == 4;
  const int colour = has_alpha ? C - 1 : C;  // 1 (gray) or 3 (RGB)
  data::ImageF rgb(W, H, 3), alpha;
  if (has_alpha) alpha = data::ImageF(W, H, 1);
  for (size_t i = 0; i < size_t(W) * H; ++i) {
    for (int c = 0; c < 3; ++c) rgb.data[i * 3 + c] = px[i * C + (colour == 1 ? 0 : c)];
    if (has_alpha) alpha.data[i] = px[i * C + C - 1];
  }
  px.clear();
  px.shrink_to_fit();

  const int W4 = W * 4, H4 = H * 4;
  const double maxv = sixteen ? 65535.0 : 255.0;
  data::Image out8;
  data::Image16 out16;
  if (sixteen) out16 = data::Image16(W4, H4, C);
  else out8 = data::Image(W4, H4, C);
  auto put = [&](size_t idx, float v) {
    const double q = std::floor(double(v) * maxv + 0.5);
    if (sixteen) out16.data[idx] = uint16_t(q);
    else out8.data[idx] = uint8_t(q);
  };
  auto sink = [&](int y, const float* row) {  // row (W4, 3)
    for (int x = 0; x < W4; ++x) {
      const size_t o = (size_t(y) * W4 + x) * C;
      if (colour == 1) put(o, (row[x * 3] + row[x * 3 + 1] + row[x * 3 + 2]) / 3.0f);
      else for (int c = 0; c < 3; ++c) put(o + c, row[x * 3 + c]);
    }
  };
  auto t0 = std::chrono::steady_clock::now();
  double last_print = -1.0;
  app::TileProgress progress;
  if (show_progress)
    progress = [&](int done, int total) {
      if (total < 4) return;
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (done < total && el - last_print < 1.0) return;  // at most one line a second
      last_print = el;
      std::fprintf(stderr, "\r  %s: tile %d/%d, %.0f s elapsed, ETA %.0f s   ", job.in.c_str(), done, total, el,
                   el / done * (total - done));
      if (done == total) std::fprintf(stderr, "\n");
    };
  app::upscale_tiled(g, rgb, topt, dev, sink, job.in, progress);

  if (has_alpha) {  // bicubic (MATLAB imresize) on the alpha plane
    data::ImageF a4 = data::imresize_bicubic(alpha, 4.0);
    for (size_t i = 0; i < size_t(W4) * H4; ++i) put(i * C + C - 1, std::clamp(a4.data[i], 0.0f, 1.0f));
  }
  if (sixteen) data::write_png16(job.out, out16);
  else data::write_png(job.out, out8);
}

int run(const cli::Args& a) {
  a.allow_only({"o", "model", "tile", "tile-overlap", "device", "threads"});
  if (a.positional().empty()) throw Error("no input given (usage: srgan upscale INPUT... -o OUT)");
  const std::string out = a.get("o", "");
  if (out.empty()) throw Error("-o OUT is required (an output file, or a folder for several inputs)");
  app::TileOptions topt;
  topt.tile = int(a.get_int("tile", topt.tile));
  topt.overlap = int(a.get_int("tile-overlap", topt.overlap));
  if (topt.tile < 1 || topt.overlap < 0 || topt.overlap >= topt.tile)
    throw Error("--tile must be >= 1 and --tile-overlap in [0, tile)");
  set_cpu_threads(int(a.get_int("threads", 0)));
  const Device dev = app::parse_device(a.get("device", "auto"));
  const std::string model_path = a.get("model", app::default_model_path());
  std::unique_ptr<SRResNet> g = app::load_generator(model_path, dev);

  std::vector<Job> jobs = plan_jobs(a.positional(), out);
  int failed = 0;
  for (auto& job : jobs) {
    auto t0 = std::chrono::steady_clock::now();
    try {
      upscale_file(*g, job, topt, dev, true);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%s -> %s (%.2f s)\n", job.in.c_str(), job.out.c_str(), s);
    } catch (const std::exception& e) {
      ++failed;
      std::fprintf(stderr, "srgan upscale: %s: %s\n", job.in.c_str(), e.what());
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
    "  --tile N          LR tile side (default 256); memory is bounded by the tile, not the image\n"
    "  --tile-overlap N  LR pixels shared by neighbouring tiles, blended (default 16)\n"
    "  --device D        auto | cpu | cuda (default auto)\n"
    "  --threads N       CPU threads for the GEMMs (default: all cores)\n"
    "Gray stays gray; alpha is upscaled with bicubic and kept; 16-bit PNG stays 16-bit.\n"
    "A failing image is reported and the rest are processed (exit status 1 if any failed).",
    &run, {}});

}  // namespace
