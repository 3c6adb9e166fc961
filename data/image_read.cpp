// Image decoding through stb_image (Debian's libstb): file checks with named errors, the pixel
// limit, channel modes, 16-bit handling and JPEG EXIF orientation described in data/image_io.h.
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

namespace srgan::data {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("image file '" + path + "' " + what);
}

const char* stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
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

void check_size(const std::string& path, int w, int h, int64_t max_pixels) {
  if (w <= 0 || h <= 0) fail(path, "has zero width or height");
  const int64_t n = int64_t(w) * int64_t(h);
  if (n > max_pixels)
    fail(path, "is too large: " + std::to_string(w) + "x" + std::to_string(h) + " = " + std::to_string(n) +
                   " pixels exceeds the limit of " + std::to_string(max_pixels));
}

// stb turns a PNG of zero width or height into "unknown image type" (it tries every other
// format after PNG refuses it), so we look at the PNG header ourselves: signature, then the
// IHDR chunk with big-endian width and height at bytes 16..23.
bool png_zero_sized(const uint8_t* b, size_t n) {
  static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  if (n < 24 || std::memcmp(b, sig, 8) != 0 || std::memcmp(b + 12, "IHDR", 4) != 0) return false;
  const bool w0 = !b[16] && !b[17] && !b[18] && !b[19], h0 = !b[20] && !b[21] && !b[22] && !b[23];
  return w0 || h0;
}

[[noreturn]] void fail_header(const std::string& path, const uint8_t* head, size_t n) {
  if (png_zero_sized(head, n)) fail(path, "has zero width or height");
  fail(path, std::string("is not an image stb_image can read (") + stb_reason() + ")");
}

int requested_channels(ChannelMode mode, int stored) {
  switch (mode) {
    case ChannelMode::Stored: return stored;
    case ChannelMode::Gray: return 1;
    case ChannelMode::Rgb: return 3;
    case ChannelMode::Rgba: return 4;
    case ChannelMode::GrayOrRgb: return stored <= 2 ? 1 : 3;
  }
  return stored;
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

// Decodes bytes to 16 bits per sample when `want16` or the file is 16-bit; else to 8 bits.
// Exactly one of out8 / out16 receives the pixels (out16 when the decode was 16-bit).
void decode(const std::vector<uint8_t>& bytes, const std::string& name, const ReadOptions& opt, bool want16,
            Image* out8, Image16* out16, bool* got16) {
  const auto* buf = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = int(bytes.size());
  if (bytes.empty()) fail(name, "is empty (0 bytes)");
  if (bytes.size() > size_t(0x7fffffff)) fail(name, "is too large: more than 2 GB");
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(buf, len, &w, &h, &c)) fail_header(name, bytes.data(), bytes.size());
  check_size(name, w, h, opt.max_pixels);
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
  // 1 unless a JPEG says otherwise
  const int orientation = jpeg_exif_orientation(bytes.data(), std::min(bytes.size(), kExifSearchBytes));
  if (orientation != 1) {
    if (*got16) *out16 = apply_orientation(*out16, orientation);
    else *out8 = apply_orientation(*out8, orientation);
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
  ImageInfo info;
  if (!stbi_info_from_file(f.get(), &info.width, &info.height, &info.channels)) {
    uint8_t head[24] = {};
    std::rewind(f.get());
    const size_t n = std::fread(head, 1, sizeof head, f.get());
    fail_header(path, head, n);
  }
  check_size(path, info.width, info.height, max_pixels);
  info.bits = stbi_is_16_bit_from_file(f.get()) ? 16 : 8;
  // A JPEG turned by its EXIF Orientation: report the displayed size, as the readers return it.
  std::rewind(f.get());
  std::vector<uint8_t> head(2);
  if (std::fread(head.data(), 1, 2, f.get()) == 2 && head[0] == 0xFF && head[1] == 0xD8) {
    head.resize(kExifSearchBytes);
    head.resize(2 + std::fread(head.data() + 2, 1, head.size() - 2, f.get()));
    if (orientation_swaps_sides(jpeg_exif_orientation(head.data(), head.size()))) std::swap(info.width, info.height);
  }
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
