// EXIF Orientation (see exif_orientation.h): a bounds-checked walk of the JPEG markers to the
// first APP1 "Exif" block, then of its TIFF header and first IFD to tag 0x0112; and the eight
// turns of an image.
#include "data/exif_orientation.h"

#include <cstring>

namespace srgan::data {
namespace {

// Tag 0x0112 in the TIFF structure t[0, n): byte order "II" (little) or "MM" (big), 42, the
// offset of IFD0, then its entries of 12 bytes (tag, type, count, value).
int tiff_orientation(const uint8_t* t, size_t n) {
  if (n < 8) return 1;
  const bool little = t[0] == 'I' && t[1] == 'I';
  if (!little && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](size_t at) { return little ? unsigned(t[at] | t[at + 1] << 8) : unsigned(t[at] << 8 | t[at + 1]); };
  auto u32 = [&](size_t at) {
    return little ? uint32_t(t[at]) | uint32_t(t[at + 1]) << 8 | uint32_t(t[at + 2]) << 16 | uint32_t(t[at + 3]) << 24
                  : uint32_t(t[at]) << 24 | uint32_t(t[at + 1]) << 16 | uint32_t(t[at + 2]) << 8 | uint32_t(t[at + 3]);
  };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd > n || n - ifd < 2) return 1;
  const size_t count = u16(ifd);
  for (size_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (e > n || n - e < 12) return 1;
    if (u16(e) != 0x0112) continue;
    const unsigned type = u16(e + 2), v = u16(e + 8);  // SHORT (3), count 1: the value is inline
    return type == 3 && u32(e + 4) >= 1 && v >= 1 && v <= 8 ? int(v) : 1;
  }
  return 1;
}

template <class Img>
Img turned(const Img& img, int o) {
  if (o < 2 || o > 8) return img;
  const int w = img.width, h = img.height, c = img.channels;
  const bool swap = orientation_swaps_sides(o);
  Img out(swap ? h : w, swap ? w : h, c);
  for (int y = 0; y < out.height; ++y) {
    auto* dst = out.row(y);
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;  // the stored pixel shown at (x, y)
      switch (o) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x, sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y, sy = x; break;
        case 6: sx = y, sy = h - 1 - x; break;
        case 7: sx = w - 1 - y, sy = h - 1 - x; break;
        case 8: sx = w - 1 - y, sy = x; break;
      }
      std::memcpy(dst + size_t(x) * c, img.row(sy) + size_t(sx) * c, sizeof(*dst) * size_t(c));
    }
  }
  return out;
}

}  // namespace

int jpeg_exif_orientation(const uint8_t* b, size_t n) {
  if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return 1;  // SOI
  size_t pos = 2;
  while (pos + 4 <= n) {
    if (b[pos] != 0xFF) return 1;
    const uint8_t marker = b[pos + 1];
    if (marker == 0xFF) {  // fill byte before a marker
      ++pos;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // markers without a length
      pos += 2;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;  // image data (SOS) or the end: no EXIF before it
    const size_t len = size_t(b[pos + 2]) << 8 | b[pos + 3];  // counts itself, not the marker
    if (len < 2 || len > n - pos - 2) return 1;
    const uint8_t* seg = b + pos + 4;
    const size_t seg_len = len - 2;
    if (marker == 0xE1 && seg_len >= 6 && std::memcmp(seg, "Exif\0\0", 6) == 0) return tiff_orientation(seg + 6, seg_len - 6);
    pos += 2 + len;
  }
  return 1;
}

Image apply_orientation(const Image& img, int orientation) { return turned(img, orientation); }
Image16 apply_orientation(const Image16& img, int orientation) { return turned(img, orientation); }

}  // namespace srgan::data
