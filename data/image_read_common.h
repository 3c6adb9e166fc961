// What the image readers share (image_read.cpp: PNG and BMP through stb_image; jpeg_decode.cpp:
// JPEG through libjpeg-turbo): the error messages of data/image_io.h, the pixel-count guard and
// the channel count a ChannelMode asks for. Internal to data/.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "data/image_io.h"

namespace srgan::data {

// std::runtime_error "image file '<path>' <what>".
[[noreturn]] inline void image_fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("image file '" + path + "' " + what);
}

// "has zero width or height" / "is too large: WxH = N pixels exceeds the limit of M", from the
// header's sides before anything is decoded. A side is below 2^32 (headers hold 32 bits at most),
// so the product fits 64 bits.
inline void check_image_size(const std::string& path, uint32_t w, uint32_t h, int64_t max_pixels) {
  if (w == 0 || h == 0) image_fail(path, "has zero width or height");
  const uint64_t n = uint64_t(w) * uint64_t(h);
  if (max_pixels < 0 || n > uint64_t(max_pixels))
    image_fail(path, "is too large: " + std::to_string(w) + "x" + std::to_string(h) + " = " + std::to_string(n) +
                         " pixels exceeds the limit of " + std::to_string(max_pixels));
}

// The channels the caller gets for a file stored with `stored` channels.
inline int requested_channels(ChannelMode mode, int stored) {
  switch (mode) {
    case ChannelMode::Stored: return stored;
    case ChannelMode::Gray: return 1;
    case ChannelMode::Rgb: return 3;
    case ChannelMode::Rgba: return 4;
    case ChannelMode::GrayOrRgb: return stored <= 2 ? 1 : 3;
  }
  return stored;
}

}  // namespace srgan::data
