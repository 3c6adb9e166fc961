// Tiled, blended, streamed generator inference (see tiled_upscaler.h).
#include "tools/upscale/tiled_upscaler.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/check.h"

namespace srgan::app {

std::vector<int> tile_origins(int n, int tile, int overlap) {
  std::vector<int> o;
  if (n <= tile) return {0};
  const int step = tile - overlap;
  for (int x = 0; x + tile < n; x += step) o.push_back(x);
  o.push_back(n - tile);
  return o;
}

namespace {
// Blend weight at HR offset i of a tile of HR length len whose first `lo` and last `hi` HR
// positions overlap the previous/next tile. Across an overlap of length L the weight is 0 for
// the outer L/4 (the tile's zero-padded border, where its output is least like the untiled
// one), rises linearly over the middle L/2 and is 1 beyond; a small floor keeps every weight
// positive. The accumulated sum is divided by the summed weights, so any arrangement of tiles
// (the last one is shifted flush with the image) blends correctly.
float ramp(int i, int len, int lo, int hi) {
  auto edge = [](float d, int L) { return std::clamp((d - 0.25f * float(L)) / (0.5f * float(L)), 0.0f, 1.0f); };
  float w = 1.0f;
  if (lo > 0) w = std::min(w, edge(float(i) + 0.5f, lo));
  if (hi > 0) w = std::min(w, edge(float(len - i) - 0.5f, hi));
  return std::max(w, 1e-4f);
}

template <class Img>
TileReader colour_reader(const Img& im, float max_value) {
  return [&im, max_value](int x0, int y0, int w, int h, float* out) {  // out (h, w, 3)
    const int C = im.channels, colour = C == 2 || C == 4 ? C - 1 : C;
    for (int y = 0; y < h; ++y) {
      const auto* src = im.row(y0 + y) + size_t(x0) * C;
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) *out++ = float(src[size_t(x) * C + (colour == 1 ? 0 : c)]) / max_value;
    }
  };
}
}  // namespace

TileReader colour_tile_reader(const data::Image& img) { return colour_reader(img, 255.0f); }
TileReader colour_tile_reader(const data::Image16& img) { return colour_reader(img, 65535.0f); }

void upscale_tiled(SRResNet& g, const data::ImageF& rgb, const TileOptions& opt, Device device, const RowSink& sink,
                   const std::string& what, const TileProgress& progress) {
  if (rgb.channels != 3) throw Error(what + ": upscale_tiled expects RGB, got " + std::to_string(rgb.channels) + " channels");
  auto read = [&](int x0, int y0, int w, int h, float* out) {
    for (int y = 0; y < h; ++y)
      std::copy(rgb.row(y0 + y) + size_t(x0) * 3, rgb.row(y0 + y) + size_t(x0 + w) * 3, out + size_t(y) * w * 3);
  };
  upscale_tiled(g, rgb.width, rgb.height, read, opt, device, sink, what, progress);
}

TilePlan plan_tiles(int width, int height, const TileOptions& opt, const std::string& what) {
  if (width < 1 || height < 1)
    throw Error(what + ": cannot upscale a " + std::to_string(width) + "x" + std::to_string(height) + " image");
  if (opt.tile < 1 || opt.overlap < 0 || opt.overlap >= opt.tile)
    throw Error("--tile must be >= 1 and --tile-overlap in [0, tile), got tile " + std::to_string(opt.tile) +
                ", overlap " + std::to_string(opt.overlap));
  constexpr int64_t s = SRResNet::scale;
  const int64_t row_bytes = s * s * int64_t(width) * 4 * int64_t(sizeof(float));  // one LR row of band: 4 HR rows
  TilePlan p;
  p.tile_w = std::min(opt.tile, width);
  p.overlap_x = opt.overlap;
  const int64_t fit = opt.band_budget / row_bytes;  // LR rows of band the budget holds
  const int want = std::min(opt.tile, height);
  if (fit < std::min(want, kMinTileHeight))
    throw Error(what + ": " + std::to_string(width) + " pixels wide is too wide to upscale in the memory bound: a band of " +
                std::to_string(std::min(want, kMinTileHeight)) + " LR rows of the 4x output needs " +
                std::to_string(std::min(want, kMinTileHeight) * row_bytes >> 20) + " MiB, the bound is " +
                std::to_string(opt.band_budget >> 20) + " MiB (--memory-mb raises it); or split the image");
  p.tile_h = int(std::min<int64_t>(want, fit));
  p.overlap_y = p.tile_h < opt.tile ? std::min(opt.overlap, p.tile_h / 2) : opt.overlap;
  if (p.tile_h < want)  // shorter tiles are made wider, as many pixels as a full tile (the same activations)
    p.tile_w = int(std::min<int64_t>(width, int64_t(opt.tile) * opt.tile / p.tile_h));
  p.band_bytes = int64_t(p.tile_h) * row_bytes;
  return p;
}

void upscale_tiled(SRResNet& g, int width, int height, const TileReader& read, const TileOptions& opt, Device device,
                   const RowSink& sink, const std::string& what, const TileProgress& progress) {
  const TilePlan plan = plan_tiles(width, height, opt, what);
  constexpr int s = SRResNet::scale;
  const int H = height, W = width, W4 = W * s;
  const int th = plan.tile_h, tw = plan.tile_w;
  const std::vector<int> ys = tile_origins(H, th, plan.overlap_y), xs = tile_origins(W, tw, plan.overlap_x);
  const int total = int(ys.size() * xs.size());
  NoGradGuard ng;
  EvalModeGuard eval(g);

  int acc_top = 0;                 // HR row held in acc[0]
  std::vector<float> acc, wsum;    // (rows, W4, 3) weighted sum, (rows, W4) weights
  std::vector<float> tile_in(size_t(th) * tw * 3);  // (th, tw, 3)
  int done = 0;
  for (size_t iy = 0; iy < ys.size(); ++iy) {
    const int y0 = ys[iy];
    const int band_bottom = (y0 + th) * s;
    const size_t rows = size_t(band_bottom - acc_top);
    acc.resize(rows * W4 * 3, 0.0f);
    wsum.resize(rows * W4, 0.0f);
    const int lo_y = iy > 0 ? (ys[iy - 1] + th - y0) * s : 0;
    const int hi_y = iy + 1 < ys.size() ? (y0 + th - ys[iy + 1]) * s : 0;
    for (size_t ix = 0; ix < xs.size(); ++ix) {
      const int x0 = xs[ix];
      read(x0, y0, tw, th, tile_in.data());
      Tensor out = g(Tensor::from_vector(tile_in, {1, th, tw, 3}, device));  // (1, th*s, tw*s, 3)
      std::vector<float> o = out.to_vector();
      const int lo_x = ix > 0 ? (xs[ix - 1] + tw - x0) * s : 0;
      const int hi_x = ix + 1 < xs.size() ? (x0 + tw - xs[ix + 1]) * s : 0;
      for (int y = 0; y < th * s; ++y) {
        const float wy = ramp(y, th * s, lo_y, hi_y);
        const size_t arow = size_t(y0 * s + y - acc_top);
        for (int x = 0; x < tw * s; ++x) {
          const float* px = &o[(size_t(y) * tw * s + x) * 3];
          for (int c = 0; c < 3; ++c)
            if (!std::isfinite(px[c]))
              throw Error(what + ": the network produced a non-finite value (" + std::to_string(px[c]) + ") in tile " +
                          std::to_string(done + 1) + "/" + std::to_string(total) + " (LR x " + std::to_string(x0) + ".." +
                          std::to_string(x0 + tw) + ", y " + std::to_string(y0) + ".." + std::to_string(y0 + th) +
                          "); nothing was written");
          const float w = wy * ramp(x, tw * s, lo_x, hi_x);
          const size_t ai = arow * W4 + size_t(x0 * s + x);
          for (int c = 0; c < 3; ++c) acc[ai * 3 + c] += w * px[c];
          wsum[ai] += w;
        }
      }
      ++done;
      if (progress) progress(done, total);
    }
    // Rows above the next tile row are final: normalise, clamp, hand over, drop.
    const int next_top = iy + 1 < ys.size() ? ys[iy + 1] * s : band_bottom;
    std::vector<float> row(size_t(W4) * 3);
    for (int y = acc_top; y < next_top; ++y) {
      const size_t r = size_t(y - acc_top);
      for (int x = 0; x < W4; ++x) {
        const float w = wsum[r * W4 + x];
        for (int c = 0; c < 3; ++c) row[size_t(x) * 3 + c] = std::clamp(acc[(r * W4 + x) * 3 + c] / w, 0.0f, 1.0f);
      }
      sink(y, row.data());
    }
    const size_t drop = size_t(next_top - acc_top);
    acc.erase(acc.begin(), acc.begin() + drop * W4 * 3);
    wsum.erase(wsum.begin(), wsum.begin() + drop * W4);
    acc_top = next_top;
  }
}

data::Image upscale_image(SRResNet& g, const data::Image& lr, const TileOptions& opt, Device device,
                          const std::string& what) {
  if (lr.channels != 1 && lr.channels != 3)
    throw Error(what + ": expected a gray or RGB image, got " + std::to_string(lr.channels) + " channels");
  constexpr int s = SRResNet::scale;
  data::Image out(lr.width * s, lr.height * s, lr.channels);
  auto q = [](float v) { return uint8_t(std::floor(v * 255.0f + 0.5f)); };
  upscale_tiled(g, lr.width, lr.height, colour_tile_reader(lr), opt, device, [&](int y, const float* row) {
    uint8_t* o = out.row(y);
    for (int x = 0; x < out.width; ++x) {
      if (out.channels == 1) o[x] = q((row[x * 3] + row[x * 3 + 1] + row[x * 3 + 2]) / 3.0f);
      else for (int c = 0; c < 3; ++c) o[x * 3 + c] = q(row[x * 3 + c]);
    }
  }, what);
  return out;
}

}  // namespace srgan::app
