// Image decoding: PNG and BMP through stb_image (Debian's libstb), JPEG through libjpeg-turbo
// (data/jpeg_decode.h); file checks with named errors, the pixel limit, channel modes, 16-bit
// handling and JPEG EXIF orientation described in data/image_io.h. stb_image is only ever given
// bytes that start with a PNG or BMP signature, so none of its other decoders (its JPEG one
// included) runs on our input.
#include <stb_image.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <sys/stat.h>
#include <utility>
#include <vector>

#include "data/exif_orientation.h"
#include "data/image_io.h"
#include "data/image_read_common.h"
#include "data/jpeg_decode.h"
#include "data/png_check.h"

namespace srgan::data {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { image_fail(path, what); }

const char* stb_reason() {
  const char* r = stbi_failure_reason();  // "" for a PNG chunk type that starts with a zero byte
  return r && *r ? r : "unknown reason";
}

// The checks every reader does before decoding: exists, regular file, not empty.
void check_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) fail(path, "does not exist");
    fail(path, std::string("cannot be opened (") + std::strerror(errno) + ")");
  }
  if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file");
  if (st.st_size == 0) fail(path, "is empty (0 bytes)");
}

enum class Format { Png, Jpeg, Bmp };
constexpr size_t kSniffBytes = 26;  // enough for the sides of a PNG or BMP header

// The format from the first bytes, or an error: we read PNG, JPEG and BMP only.
Format format_of(const std::string& path, const uint8_t* b, size_t n) {
  static const uint8_t png_sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  if (n >= 8 && std::memcmp(b, png_sig, 8) == 0) return Format::Png;
  if (looks_like_jpeg(b, n)) return Format::Jpeg;
  if (n >= 2 && b[0] == 'B' && b[1] == 'M') return Format::Bmp;
  std::string first;
  for (size_t i = 0; i < std::min<size_t>(n, 4); ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02x", b[i]);
    first += (i ? " " : "") + std::string(hex);
  }
  fail(path, "is not an image: neither PNG, JPEG nor BMP (it starts with bytes " + first + ")");
}

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint32_t le32(const uint8_t* p) { return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]; }

// The sides a PNG's IHDR or a BMP's info header claims, checked against the pixel limit before
// stb sees the file: stb refuses large pictures (sides over 2^24, over 2^30 bytes) as "unknown
// image type". Headers too short to hold the sides are left to stb's own errors.
void check_header_size(const std::string& path, Format f, const uint8_t* b, size_t n, int64_t max_pixels) {
  if (f == Format::Png && n >= 24 && std::memcmp(b + 12, "IHDR", 4) == 0) {
    check_image_size(path, be32(b + 16), be32(b + 20), max_pixels);
  } else if (f == Format::Bmp && n >= 26) {
    const uint32_t info_size = le32(b + 14);
    if (info_size == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sides
      check_image_size(path, uint32_t(b[18] | b[19] << 8), uint32_t(b[20] | b[21] << 8), max_pixels);
    } else {  // BITMAPINFOHEADER and later: a negative height means rows stored top-down
      const int64_t h = int32_t(le32(b + 22));
      check_image_size(path, le32(b + 18), uint32_t(h < 0 ? -h : h), max_pixels);
    }
  }
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

Image16 widen(const Image& img) {  // 8-bit samples as 16-bit ones, v * 257 (stb's rule)
  Image16 out(img.width, img.height, img.channels);
  for (size_t i = 0; i < img.size(); ++i) out.data[i] = uint16_t(img.data[i] * 257);
  return out;
}

// JPEG: libjpeg-turbo, then the EXIF turn. 8-bit samples; `want16` widens them.
void decode_jpeg_file(const std::vector<uint8_t>& bytes, const std::string& name, const ReadOptions& opt, bool want16,
                      Image* out8, Image16* out16, bool* got16) {
  const bool as_stored = opt.channels == ChannelMode::Stored || opt.channels == ChannelMode::GrayOrRgb;
  Image img = decode_jpeg(bytes.data(), bytes.size(), name, opt.max_pixels,
                          as_stored ? 0 : requested_channels(opt.channels, 0));
  const int orientation = jpeg_exif_orientation(bytes.data(), std::min(bytes.size(), kExifSearchBytes));
  if (orientation != 1) img = apply_orientation(img, orientation);
  *got16 = want16;
  if (want16) *out16 = widen(img);
  else *out8 = std::move(img);
}

// Decodes bytes to 16 bits per sample when `want16` or the file is 16-bit; else to 8 bits.
// Exactly one of out8 / out16 receives the pixels (out16 when the decode was 16-bit).
void decode(const std::vector<uint8_t>& bytes, const std::string& name, const ReadOptions& opt, bool want16,
            Image* out8, Image16* out16, bool* got16) {
  if (bytes.empty()) fail(name, "is empty (0 bytes)");
  if (bytes.size() > size_t(0x7fffffff)) fail(name, "is too large: more than 2 GB");
  const Format format = format_of(name, bytes.data(), bytes.size());
  if (format == Format::Jpeg) return decode_jpeg_file(bytes, name, opt, want16, out8, out16, got16);
  check_header_size(name, format, bytes.data(), bytes.size(), opt.max_pixels);
  std::vector<uint8_t> cleaned;  // the PNG without empty IDAT chunks, when it has some
  if (format == Format::Png) {
    const std::string problem = png_structure_problem(bytes.data(), bytes.size());
    if (!problem.empty()) fail(name, "is truncated or corrupt (" + problem + ")");
    cleaned = png_without_empty_idat(bytes.data(), bytes.size());
  }
  const std::vector<uint8_t>& file = cleaned.empty() ? bytes : cleaned;
  const auto* buf = reinterpret_cast<const stbi_uc*>(file.data());
  const int len = int(file.size());
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(buf, len, &w, &h, &c))
    fail(name, std::string("is not an image stb_image can read (") + stb_reason() + ")");
  check_image_size(name, uint32_t(w), uint32_t(h), opt.max_pixels);
  const int req = requested_channels(opt.channels, c);
  const bool is16 = stbi_is_16_bit_from_memory(buf, len) != 0;
  int dw = 0, dh = 0, dc = 0;
  if (is16 || want16) {
    std::unique_ptr<stbi_us, StbFree> px(stbi_load_16_from_memory(buf, len, &dw, &dh, &dc, req));
    if (!px) fail(name, std::string("is truncated or corrupt (") + stb_reason() + ")");
    *out16 = Image16(dw, dh, req);
    std::memcpy(out16->data.data(), px.get(), out16->bytes());
    *got16 = true;
  } else {
    std::unique_ptr<stbi_uc, StbFree> px(stbi_load_from_memory(buf, len, &dw, &dh, &dc, req));
    if (!px) fail(name, std::string("is truncated or corrupt (") + stb_reason() + ")");
    *out8 = Image(dw, dh, req);
    std::memcpy(out8->data.data(), px.get(), out8->bytes());
    *got16 = false;
  }
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  check_file(path);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(path, std::string("cannot be opened (") + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  if (std::ferror(f.get())) fail(path, std::string("could not be read (") + std::strerror(errno) + ")");
  if (bytes.empty()) fail(path, "is empty (0 bytes)");
  return bytes;
}

ImageInfo read_image_info(const std::string& path, int64_t max_pixels) {
  check_file(path);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(path, std::string("cannot be opened (") + std::strerror(errno) + ")");
  uint8_t sniff[kSniffBytes] = {};
  const size_t got = std::fread(sniff, 1, sizeof sniff, f.get());
  const Format format = format_of(path, sniff, got);
  std::rewind(f.get());
  ImageInfo info;
  if (format == Format::Jpeg) {
    const JpegHeader h = read_jpeg_header(f.get(), path, max_pixels);
    info.width = h.width, info.height = h.height, info.channels = h.channels;
    // Turned by its EXIF Orientation: report the displayed size, as the readers return it.
    std::vector<uint8_t> head(kExifSearchBytes);
    std::rewind(f.get());
    head.resize(std::fread(head.data(), 1, head.size(), f.get()));
    if (orientation_swaps_sides(jpeg_exif_orientation(head.data(), head.size()))) std::swap(info.width, info.height);
    return info;
  }
  check_header_size(path, format, sniff, got, max_pixels);
  if (!stbi_info_from_file(f.get(), &info.width, &info.height, &info.channels))
    fail(path, std::string("is not an image stb_image can read (") + stb_reason() + ")");
  check_image_size(path, uint32_t(info.width), uint32_t(info.height), max_pixels);
  info.bits = stbi_is_16_bit_from_file(f.get()) ? 16 : 8;
  return info;
}

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& name, const ReadOptions& opt) {
  Image out8;
  Image16 out16;
  bool got16 = false;
  decode(bytes, name, opt, false, &out8, &out16, &got16);
  if (!got16) return out8;
  Image out(out16.width, out16.height, out16.channels);  // round(v * 255 / 65535)
  for (size_t i = 0; i < out16.size(); ++i) out.data[i] = uint8_t((uint32_t(out16.data[i]) * 255u + 32767u) / 65535u);
  return out;
}

Image read_image(const std::string& path, const ReadOptions& opt) {
  return decode_image(read_file_bytes(path), path, opt);
}

Image16 read_image16(const std::string& path, const ReadOptions& opt) {
  Image out8;
  Image16 out16;
  bool got16 = false;
  decode(read_file_bytes(path), path, opt, true, &out8, &out16, &got16);
  return out16;
}

}  // namespace srgan::data
