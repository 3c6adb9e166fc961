// Channel and sample-type conversions for data/image.h (HWC layout throughout).
#include "data/image.h"

#include <array>
#include <cmath>

namespace srgan::data {

Image drop_alpha(const Image& img) {
  if (img.channels != 2 && img.channels != 4) return img;
  const int c_out = img.channels - 1;
  Image out(img.width, img.height, c_out);
  const size_t n = img.pixels();
  for (size_t p = 0; p < n; ++p)
    for (int c = 0; c < c_out; ++c) out.data[p * c_out + c] = img.data[p * img.channels + c];
  return out;
}

Image gray_to_rgb(const Image& img) {
  if (img.channels == 3) return img;
  if (img.channels != 1)
    throw std::runtime_error("gray_to_rgb: expected 1 or 3 channels, got " + std::to_string(img.channels));
  Image out(img.width, img.height, 3);
  const size_t n = img.pixels();
  for (size_t p = 0; p < n; ++p) out.data[3 * p] = out.data[3 * p + 1] = out.data[3 * p + 2] = img.data[p];
  return out;
}

void to_float01(const Image& img, float* dst) {
  static const auto table = [] {  // v / 255.0f exactly, as a reader would compute it
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) t[size_t(v)] = float(v) / 255.0f;
    return t;
  }();
  const size_t n = img.size();
  for (size_t i = 0; i < n; ++i) dst[i] = table[img.data[i]];
}

ImageF to_float01(const Image& img) {
  ImageF out(img.width, img.height, img.channels);
  to_float01(img, out.data.data());
  return out;
}

Image from_float01(const ImageF& img) {
  Image out(img.width, img.height, img.channels);
  const size_t n = img.size();
  for (size_t i = 0; i < n; ++i) {
    double v = std::floor(double(img.data[i]) * 255.0 + 0.5);
    if (!(v > 0.0)) v = 0.0;  // also maps NaN to 0
    if (v > 255.0) v = 255.0;
    out.data[i] = uint8_t(v);
  }
  return out;
}

}  // namespace srgan::data
