// Upscaling image files end to end (see upscale_files.h).
#include "tools/upscale_files.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "core/check.h"
#include "data/image_folder.h"
#include "data/image_io.h"
#include "data/resize.h"

namespace fs = std::filesystem;

namespace srgan::app {

std::vector<UpscaleJob> plan_upscale_jobs(const std::vector<std::string>& inputs, const std::string& out) {
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
  std::vector<UpscaleJob> jobs;
  if (single_file) {
    jobs.push_back({files[0], out});
  } else {
    fs::create_directories(out);
    std::map<std::string, std::string> taken;  // output -> the input that claimed it
    for (auto& f : files) {
      std::string o = (fs::path(out) / (fs::path(f).stem().string() + "_x4.png")).string();
      auto [it, fresh] = taken.emplace(o, f);
      if (!fresh)
        throw Error("inputs " + it->second + " and " + f + " would both be written to " + o +
                    "; upscale them into separate output folders");
      jobs.push_back({f, o});
    }
  }
  return jobs;
}

void upscale_file(SRResNet& g, const UpscaleJob& job, const TileOptions& topt, Device dev, bool show_progress) {
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
  TileProgress progress;
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
  upscale_tiled(g, rgb, topt, dev, sink, job.in, progress);

  if (has_alpha) {  // bicubic (MATLAB imresize) on the alpha plane
    data::ImageF a4 = data::imresize_bicubic(alpha, 4.0);
    for (size_t i = 0; i < size_t(W4) * H4; ++i) put(i * C + C - 1, std::clamp(a4.data[i], 0.0f, 1.0f));
  }
  if (sixteen) data::write_png16(job.out, out16);
  else data::write_png(job.out, out8);
}

}  // namespace srgan::app
