// MATLAB-exact bicubic resize (recipe in data/resize.h): weights once per dimension, then two
// separable passes over HWC images, double accumulation in tap order.
#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace srgan::data {
namespace {

// Keys cubic, a = -0.5, written as MATLAB's imresize.m writes it.
double cubic(double x) {
  const double ax = std::fabs(x), ax2 = ax * ax, ax3 = ax2 * ax;
  return (1.5 * ax3 - 2.5 * ax2 + 1.0) * double(ax <= 1.0) +
         (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * double(ax > 1.0 && ax <= 2.0);
}

inline uint8_t round_u8(double v) {
  v = std::floor(v + 0.5);
  return uint8_t(v < 0.0 ? 0.0 : v > 255.0 ? 255.0 : v);
}
inline float round_to(double v, float*) { return float(v); }
inline uint8_t round_to(double v, uint8_t*) { return round_u8(v); }

// Output row y of the pass along the height: dst (row_len = W * C) from the input rows that
// row_of(i) returns, (W, C) each. acc: scratch of W * C doubles.
template <typename T, class RowOf>
void height_row(RowOf row_of, size_t row_len, const ResizeWeights& rw, int y, std::vector<double>& acc, T* dst) {
  acc.assign(row_len, 0.0);
  for (int j = 0; j < rw.taps; ++j) {
    const double w = rw.weight[size_t(y) * rw.taps + j];
    const T* src = row_of(rw.index[size_t(y) * rw.taps + j]);
    for (size_t i = 0; i < row_len; ++i) acc[i] += w * double(src[i]);
  }
  for (size_t i = 0; i < row_len; ++i) dst[i] = round_to(acc[i], (T*)nullptr);
}

// One row of the pass along the width: src (W_in, C) -> dst (W_out, C).
template <typename T>
void width_row(const T* src, int C, const ResizeWeights& rw, T* dst) {
  for (int x = 0; x < rw.out_len; ++x) {
    const double* w = &rw.weight[size_t(x) * rw.taps];
    const int* idx = &rw.index[size_t(x) * rw.taps];
    for (int c = 0; c < C; ++c) {
      double acc = 0.0;
      for (int j = 0; j < rw.taps; ++j) acc += w[j] * double(src[size_t(idx[j]) * C + c]);
      dst[size_t(x) * C + c] = round_to(acc, (T*)nullptr);
    }
  }
}

// One pass along the height: (H_in, W, C) -> (H_out, W, C).
template <typename T>
ImageT<T> resize_height(const ImageT<T>& in, const ResizeWeights& rw) {
  ImageT<T> out(in.width, rw.out_len, in.channels);
  std::vector<double> acc;
  auto row_of = [&in](int i) { return in.row(i); };
  for (int y = 0; y < rw.out_len; ++y) height_row(row_of, size_t(in.width) * in.channels, rw, y, acc, out.row(y));
  return out;
}

// One pass along the width: (H, W_in, C) -> (H, W_out, C).
template <typename T>
ImageT<T> resize_width(const ImageT<T>& in, const ResizeWeights& rw) {
  ImageT<T> out(rw.out_len, in.height, in.channels);
  for (int y = 0; y < in.height; ++y) width_row(in.row(y), in.channels, rw, out.row(y));
  return out;
}

template <typename T>
ImageT<T> resize_impl(const ImageT<T>& img, int out_w, int out_h, double scale_w, double scale_h) {
  if (img.empty() || img.width <= 0 || img.height <= 0) throw std::runtime_error("imresize_bicubic: empty image");
  if (out_w <= 0 || out_h <= 0)
    throw std::runtime_error("imresize_bicubic: output size " + std::to_string(out_w) + "x" + std::to_string(out_h) +
                             " from a " + std::to_string(img.width) + "x" + std::to_string(img.height) + " image");
  const ResizeWeights wh = bicubic_weights(img.height, out_h, scale_h);
  const ResizeWeights ww = bicubic_weights(img.width, out_w, scale_w);
  if (scale_h <= scale_w) return resize_width(resize_height(img, wh), ww);  // MATLAB: smaller scale first
  return resize_height(resize_width(img, ww), wh);
}

int scaled_len(int in, double scale) { return int(std::ceil(scale * double(in))); }

}  // namespace

ResizeWeights bicubic_weights(int in_len, int out_len, double scale) {
  if (in_len <= 0 || out_len <= 0 || !(scale > 0.0))
    throw std::runtime_error("bicubic_weights: bad sizes " + std::to_string(in_len) + " -> " + std::to_string(out_len));
  const bool antialias = scale < 1.0;
  const double width = antialias ? 4.0 / scale : 4.0;
  ResizeWeights rw;
  rw.in_len = in_len;
  rw.out_len = out_len;
  rw.taps = int(std::ceil(width)) + 2;
  rw.weight.resize(size_t(out_len) * rw.taps);
  rw.index.resize(size_t(out_len) * rw.taps);
  for (int x = 1; x <= out_len; ++x) {
    const double u = double(x) / scale + 0.5 * (1.0 - 1.0 / scale);
    const double left = std::floor(u - width / 2.0);
    double* w = &rw.weight[size_t(x - 1) * rw.taps];
    int* idx = &rw.index[size_t(x - 1) * rw.taps];
    double total = 0.0;
    for (int j = 0; j < rw.taps; ++j) {
      const double pos = left + double(j);
      const double d = u - pos;
      w[j] = antialias ? scale * cubic(scale * d) : cubic(d);
      total += w[j];
      const int i1 = int(pos);  // 1-based, clamped (replicate)
      idx[j] = (i1 < 1 ? 1 : i1 > in_len ? in_len : i1) - 1;
    }
    for (int j = 0; j < rw.taps; ++j) w[j] /= total;
  }
  return rw;
}

Image imresize_bicubic(const Image& img, double scale) {
  return resize_impl(img, scaled_len(img.width, scale), scaled_len(img.height, scale), scale, scale);
}

Image imresize_bicubic(const Image& img, int out_width, int out_height) {
  return resize_impl(img, out_width, out_height, double(out_width) / img.width, double(out_height) / img.height);
}

ImageF imresize_bicubic(const ImageF& img, double scale) {
  return resize_impl(img, scaled_len(img.width, scale), scaled_len(img.height, scale), scale, scale);
}

BicubicRowUpscaler::BicubicRowUpscaler(int width, int height, int channels, RowSource source, int factor)
    : width_(width), channels_(channels), source_(std::move(source)) {
  if (width <= 0 || height <= 0 || channels <= 0) throw std::runtime_error("BicubicRowUpscaler: empty image");
  if (factor < 1) throw std::runtime_error("BicubicRowUpscaler: factor must be >= 1, got " + std::to_string(factor));
  wh_ = bicubic_weights(height, height * factor, double(factor));
  ww_ = bicubic_weights(width, width * factor, double(factor));
  cache_.assign(size_t(wh_.taps), std::vector<float>(size_t(width) * channels));
  cached_y_.assign(size_t(wh_.taps), -1);
  mid_.resize(size_t(width) * channels);
}

BicubicRowUpscaler::BicubicRowUpscaler(const ImageF& img, int factor)
    : BicubicRowUpscaler(img.width, img.height, img.channels, [&img](int y, float* out) {
        std::copy(img.row(y), img.row(y) + size_t(img.width) * img.channels, out);
      }, factor) {}

// One output row needs `taps` consecutive input rows (clamped at the edges), and output rows
// are asked for top to bottom, so a ring of `taps` rows read in turn misses each input row once.
const float* BicubicRowUpscaler::input_row(int y) {
  for (size_t i = 0; i < cached_y_.size(); ++i)
    if (cached_y_[i] == y) return cache_[i].data();
  const size_t slot = next_slot_;
  next_slot_ = (next_slot_ + 1) % cache_.size();
  source_(y, cache_[slot].data());
  cached_y_[slot] = y;
  return cache_[slot].data();
}

void BicubicRowUpscaler::row(int y, float* out) {
  if (y < 0 || y >= wh_.out_len) throw std::runtime_error("BicubicRowUpscaler: row " + std::to_string(y) + " out of range");
  auto row_of = [this](int i) { return input_row(i); };
  height_row(row_of, size_t(width_) * channels_, wh_, y, acc_, mid_.data());  // equal scales: height first
  width_row(mid_.data(), channels_, ww_, out);
}

Image downscale_bicubic(const Image& img, int factor) {
  if (factor < 1) throw std::runtime_error("downscale_bicubic: factor must be >= 1, got " + std::to_string(factor));
  const double s = 1.0 / double(factor);
  return resize_impl(img, (img.width + factor - 1) / factor, (img.height + factor - 1) / factor, s, s);
}

Image upscale_bicubic(const Image& img, int factor) {
  if (factor < 1) throw std::runtime_error("upscale_bicubic: factor must be >= 1, got " + std::to_string(factor));
  return resize_impl(img, img.width * factor, img.height * factor, double(factor), double(factor));
}

}  // namespace srgan::data
