// In-memory images for the data side: one small struct templated on the sample type.
//
// LAYOUT: interleaved HWC, row-major. Sample (y, x, c) of an image is
//   data[(size_t(y) * width + x) * channels + c],   data shape (height, width, channels).
// Channels are 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA). uint8 images hold 0..255,
// uint16 images 0..65535, float images whatever the producer says (the loader uses [0, 1]).
// Batches elsewhere in data/ are NHWC: N such images back to back.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace srgan::data {

template <typename T>
struct ImageT {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<T> data;  // (height, width, channels)

  ImageT() = default;
  ImageT(int w, int h, int c, T fill = T(0))
      : width(w), height(h), channels(c), data(size_t(w) * size_t(h) * size_t(c), fill) {}

  bool empty() const { return data.empty(); }
  size_t pixels() const { return size_t(width) * size_t(height); }
  size_t size() const { return data.size(); }
  size_t bytes() const { return data.size() * sizeof(T); }
  T* row(int y) { return data.data() + size_t(y) * size_t(width) * size_t(channels); }
  const T* row(int y) const { return data.data() + size_t(y) * size_t(width) * size_t(channels); }
  T& at(int y, int x, int c) { return data[(size_t(y) * width + x) * channels + c]; }
  const T& at(int y, int x, int c) const { return data[(size_t(y) * width + x) * channels + c]; }
};

using Image = ImageT<uint8_t>;     // 8-bit, the common case (eval, training crops)
using Image16 = ImageT<uint16_t>;  // 16-bit PNG
using ImageF = ImageT<float>;      // float, e.g. [0, 1] for the network
using ImageD = ImageT<double>;     // double planes for metrics (usually channels == 1)

// The sub-image [y0, y0+h) x [x0, x0+w); throws std::runtime_error when it leaves the image.
template <typename T>
ImageT<T> crop(const ImageT<T>& img, int x0, int y0, int w, int h) {
  if (x0 < 0 || y0 < 0 || w < 0 || h < 0 || x0 + w > img.width || y0 + h > img.height)
    throw std::runtime_error("crop: region " + std::to_string(w) + "x" + std::to_string(h) + "+" +
                             std::to_string(x0) + "+" + std::to_string(y0) + " leaves the " +
                             std::to_string(img.width) + "x" + std::to_string(img.height) + " image");
  ImageT<T> out(w, h, img.channels);
  const size_t row_len = size_t(w) * img.channels;
  for (int y = 0; y < h; ++y) {
    const T* src = img.row(y0 + y) + size_t(x0) * img.channels;
    std::copy(src, src + row_len, out.row(y));
  }
  return out;
}

// MATLAB modcrop: the top-left part whose sides are multiples of `scale`.
template <typename T>
ImageT<T> modcrop(const ImageT<T>& img, int scale) {
  if (scale < 1) throw std::runtime_error("modcrop: scale must be >= 1, got " + std::to_string(scale));
  return crop(img, 0, 0, img.width - img.width % scale, img.height - img.height % scale);
}

// Drops the alpha channel (2 -> 1, 4 -> 3); other images are returned unchanged. No compositing.
Image drop_alpha(const Image& img);
// Gray (1 channel) -> RGB by replication; RGB is returned unchanged; anything else throws.
Image gray_to_rgb(const Image& img);
// uint8 -> float in [0, 1] (v / 255), same layout.
ImageF to_float01(const Image& img);
// float in [0, 1] -> uint8, v * 255 rounded half up, clipped to 0..255.
Image from_float01(const ImageF& img);
// Writes v / 255 of every sample into dst, which holds img.size() floats (H, W, C).
void to_float01(const Image& img, float* dst);

}  // namespace srgan::data
