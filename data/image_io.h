// Reading images (PNG 8/16-bit, JPEG, BMP; nothing else) and writing PNG atomically. PNG and BMP
// decode through stb_image from Debian's libstb, JPEG through libjpeg-turbo (data/jpeg_decode.h);
// the first bytes choose, whatever the file's name. PNG encoding is our streaming PngEncoder
// (data/png_encoder.h) around zlib.
//
// LAYOUT: images come back interleaved HWC (see data/image.h), rows top to bottom.
//
// Channels. A file is gray (1), gray+alpha (2), RGB (3) or RGBA (4). ChannelMode chooses what
// the caller gets:
//   Stored     as in the file (1, 2, 3 or 4);
//   Gray       1 channel; colour becomes stb's luma (77 R + 150 G + 29 B) >> 8, alpha dropped;
//   Rgb        3 channels; gray is replicated, alpha is DROPPED (not composited on any
//              background: transparent pixels keep their stored colour);
//   Rgba       4 channels; missing alpha is 255;
//   GrayOrRgb  1 for gray and gray+alpha files, 3 for RGB and RGBA files (alpha dropped). This
//              is what evaluation uses: a gray image stays gray, as MATLAB scripts treat it.
// JPEG EXIF orientation: a JPEG whose EXIF Orientation tag says it is stored turned (phone
// portraits) comes back turned for display, as viewers show it; read_image_info reports the
// displayed width and height (data/exif_orientation.h).
//
// 16-bit files read into an 8-bit Image are rounded, v8 = round(v16 * 255 / 65535) (stb itself
// would truncate, v16 >> 8). read_image16 gives 8-bit files as v * 257.
//
// Errors are std::runtime_error with the file name and one of: "does not exist",
// "is not a regular file", "cannot be opened (<errno text>)", "is empty (0 bytes)",
// "is not an image: neither PNG, JPEG nor BMP (it starts with bytes ..)",
// "is not an image stb_image can read (<reason>)", "is not a JPEG libjpeg can read (<reason>)",
// "has zero width or height", "is too large: WxH = N pixels exceeds the limit of M" (from the
// header, before decoding), "is truncated or corrupt (<reason>)".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace srgan::data {

enum class ChannelMode { Stored, Gray, Rgb, Rgba, GrayOrRgb };

// Guards against decompression bombs: a 2040x1356 DIV2K image is 2.8 M pixels.
constexpr int64_t kDefaultMaxPixels = int64_t(1) << 26;  // 67 M pixels (201 MB as RGB)

struct ReadOptions {
  ChannelMode channels = ChannelMode::Rgb;
  int64_t max_pixels = kDefaultMaxPixels;
};

// What the file header says; reads only the header (cheap: used to scan big folders).
struct ImageInfo {
  int width = 0;
  int height = 0;
  int channels = 0;  // as stored: 1, 2, 3 or 4
  int bits = 8;      // 8 or 16 (16 only for 16-bit PNG)
};

ImageInfo read_image_info(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);
Image read_image(const std::string& path, const ReadOptions& opt = {});
Image16 read_image16(const std::string& path, const ReadOptions& opt = {});
// Decodes an image already in memory; `name` is used in error messages only.
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& name, const ReadOptions& opt = {});

// PNG writers: 1-4 channels, written to a temporary file in the same folder, flushed, then
// renamed over `path`, so a reader never sees a half-written file. Throw on any failure (the
// temporary file is removed).
void write_png(const std::string& path, const Image& img);
void write_png16(const std::string& path, const Image16& img);
// The PNG file bytes without touching the disk.
std::vector<uint8_t> encode_png(const Image& img);
std::vector<uint8_t> encode_png16(const Image16& img);

// The whole file; errors as above ("does not exist", "cannot be opened", read errors).
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace srgan::data
