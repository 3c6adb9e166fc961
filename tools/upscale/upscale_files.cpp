// Upscaling image files end to end (see upscale_files.h).
#include "tools/upscale/upscale_files.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "core/check.h"
#include "data/atomic_file.h"
#include "data/image_folder.h"
#include "data/image_io.h"
#include "data/png_encoder.h"
#include "data/resize.h"

namespace fs = std::filesystem;

namespace srgan::app {

namespace {

// True when `a` and `b` name the same existing file (hard or symbolic links included).
bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  const bool same = fs::equivalent(a, b, ec);
  return !ec && same;
}

// Refuses a plan in which an output would replace one of the inputs.
void check_inputs_survive(const std::vector<UpscaleJob>& jobs) {
  for (const auto& job : jobs)
    for (const auto& other : jobs)
      if (same_file(job.out, other.in))
        throw Error("the output " + job.out + " of " + job.in + " is the input " + other.in +
                    (job.in == other.in ? " itself" : " (an earlier run's output?)") +
                    ": srgan never overwrites an input; write to another file or folder" +
                    (job.in == other.in ? "" : ", or move " + other.in + " out of the input folder"));
}

}  // namespace

std::vector<UpscaleJob> plan_upscale_jobs(const std::vector<std::string>& inputs, const std::string& out,
                                          bool overwrite) {
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
    jobs.push_back({files[0], out, overwrite});
  } else {
    fs::create_directories(out);
    std::map<std::string, std::string> taken;  // output -> the input that claimed it
    for (auto& f : files) {
      std::string o = (fs::path(out) / (fs::path(f).stem().string() + "_x4.png")).string();
      auto [it, fresh] = taken.emplace(o, f);
      if (!fresh)
        throw Error("inputs " + it->second + " and " + f + " would both be written to " + o +
                    "; upscale them into separate output folders");
      jobs.push_back({f, o, overwrite});
    }
  }
  check_inputs_survive(jobs);
  return jobs;
}

namespace {

// Row y of the alpha channel (the last of C = 2 or 4) of a decoded image, as floats in [0, 1].
template <class Img>
data::BicubicRowUpscaler::RowSource alpha_rows(const Img& im, float max_value) {
  return [&im, max_value](int y, float* out) {  // out (W,)
    const auto* src = im.row(y);
    for (int x = 0; x < im.width; ++x) out[x] = float(src[size_t(x) * im.channels + im.channels - 1]) / max_value;
  };
}

}  // namespace

UpscaleMemory plan_upscale_memory(const std::string& path, const data::ImageInfo& info, int64_t file_bytes,
                                  const TileOptions& opt, Device device) {
  constexpr int64_t MB = int64_t(1) << 20;
  UpscaleMemory m;
  m.base = 300 * MB;
  const int64_t tile_px = int64_t(std::min(opt.tile, info.width)) * std::min(opt.tile, info.height);
  m.tiles = device == Device::cpu ? tile_px * 9728 : tile_px * 16 * 3 * 4 * 2;  // CPU activations; GPU: the output
  m.decoded = int64_t(info.width) * info.height * info.channels * (info.bits / 8);
  m.decode_peak = file_bytes + 3 * m.decoded;  // the file, the decoder's output and buffers, our copy
  const int64_t left = opt.memory_budget - m.base - m.tiles - m.decoded;
  const TilePlan full = plan_tiles(info.width, info.height, TileOptions{opt.tile, opt.overlap, int64_t(1) << 62}, path);
  m.band_budget = std::min(left, full.band_bytes);
  const int64_t min_band = int64_t(std::min(full.tile_h, kMinTileHeight)) * (full.band_bytes / full.tile_h);
  auto mb = [](int64_t b) { return std::to_string((b + MB - 1) / MB); };
  if (m.base + m.decode_peak > opt.memory_budget)
    throw Error(path + ": decoding this " + std::to_string(info.width) + "x" + std::to_string(info.height) +
                " image needs about " + mb(m.base + m.decode_peak) + " MB, more than the " + mb(opt.memory_budget) +
                " MB bound: give --memory-mb " + mb(m.base + m.decode_peak) + " or more, or split the image");
  if (m.band_budget < min_band) {
    const int64_t need = m.base + m.tiles + m.decoded + min_band;
    throw Error(path + ": upscaling this " + std::to_string(info.width) + "x" + std::to_string(info.height) +
                " image needs about " + mb(need) + " MB (tiles " + mb(m.tiles) + ", decoded image " + mb(m.decoded) +
                ", rows of the 4x output " + mb(min_band) + "), more than the " + mb(opt.memory_budget) +
                " MB bound: give --memory-mb " + mb(need) + ", a smaller --tile, or split the image");
  }
  return m;
}

namespace {

// upscale_file without the translation of std::bad_alloc.
void upscale_file_within_memory(SRResNet& g, const UpscaleJob& job, const TileOptions& topt_in, Device dev,
                                bool show_progress) {
  std::error_code ec;
  if (!job.overwrite && fs::is_regular_file(job.out, ec))
    throw Error(job.out + " already exists; pass --overwrite to replace it");
  const data::ImageInfo info = data::read_image_info(job.in, kUpscaleMaxPixels);
  TileOptions topt = topt_in;
  topt.band_budget = plan_upscale_memory(job.in, info, int64_t(fs::file_size(job.in, ec)), topt_in, dev).band_budget;
  const bool sixteen = info.bits == 16;
  data::ReadOptions ro;
  ro.channels = data::ChannelMode::Stored;
  ro.max_pixels = kUpscaleMaxPixels;
  // The decoded image stays as it is (one of im8 / im16, (H, W, C)); the tiles read it through
  // colour_tile_reader and the alpha upscaler a row at a time: no float copy of any plane.
  data::Image im8;
  data::Image16 im16;
  if (sixteen) im16 = data::read_image16(job.in, ro);
  else im8 = data::read_image(job.in, ro);
  const int C = sixteen ? im16.channels : im8.channels, W = sixteen ? im16.width : im8.width,
            H = sixteen ? im16.height : im8.height;
  const bool has_alpha = C == 2 || C == 4;
  const TileReader read_colour = sixteen ? colour_tile_reader(im16) : colour_tile_reader(im8);
  const int colour = has_alpha ? C - 1 : C;  // 1 (gray) or 3 (RGB)

  const int W4 = W * 4, H4 = H * 4;
  const double maxv = sixteen ? 65535.0 : 255.0;
  // The output streams to disk row by row as the tiles finish (memory does not grow with the
  // image); the file appears under its name only when complete (data/atomic_file.h). A run
  // killed while writing this output left its temporary file: removed first.
  data::remove_stale_temp_files(job.out);
  data::AtomicFile file(job.out);
  data::PngEncoder png(W4, H4, C, sixteen ? 16 : 8, [&](const uint8_t* p, size_t n) { file.write(p, n); });
  std::optional<data::BicubicRowUpscaler> alpha4;  // alpha: MATLAB bicubic, one row at a time
  if (has_alpha) alpha4.emplace(W, H, 1, sixteen ? alpha_rows(im16, 65535.0f) : alpha_rows(im8, 255.0f), 4);
  std::vector<float> a_row(has_alpha ? size_t(W4) : 0);  // (W4,)
  std::vector<float> px_row(size_t(W4) * C);            // (W4, C) in [0, 1]
  std::vector<uint8_t> row8(sixteen ? 0 : px_row.size());
  std::vector<uint16_t> row16(sixteen ? px_row.size() : 0);
  auto sink = [&](int y, const float* row) {  // row (W4, 3)
    if (has_alpha) alpha4->row(y, a_row.data());
    for (int x = 0; x < W4; ++x) {
      float* o = &px_row[size_t(x) * C];
      if (colour == 1) o[0] = (row[x * 3] + row[x * 3 + 1] + row[x * 3 + 2]) / 3.0f;
      else for (int c = 0; c < 3; ++c) o[c] = row[x * 3 + c];
      if (has_alpha) o[C - 1] = std::clamp(a_row[size_t(x)], 0.0f, 1.0f);
    }
    for (size_t i = 0; i < px_row.size(); ++i) {
      const double q = std::floor(double(px_row[i]) * maxv + 0.5);
      if (sixteen) row16[i] = uint16_t(q);
      else row8[i] = uint8_t(q);
    }
    if (sixteen) png.add_row(row16.data());
    else png.add_row(row8.data());
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
  upscale_tiled(g, W, H, read_colour, topt, dev, sink, job.in, progress);
  png.finish();
  file.commit();
}

}  // namespace

void upscale_file(SRResNet& g, const UpscaleJob& job, const TileOptions& topt_in, Device dev, bool show_progress) {
  try {
    upscale_file_within_memory(g, job, topt_in, dev, show_progress);
  } catch (const std::bad_alloc&) {
    throw Error(job.in + ": out of memory (the machine had less free than --memory-mb " +
                std::to_string(topt_in.memory_budget >> 20) + " assumed): give a smaller --memory-mb or --tile");
  }
}

}  // namespace srgan::app
