// JPEG decoding through libjpeg-turbo (Debian's libjpeg62-turbo), which is fuzzed upstream
// continuously; stb_image 2.27's JPEG decoder reads out of bounds and uninitialised memory on
// crafted files (docs/testing.md), so no JPEG ever reaches stb. Used by image_read.cpp; EXIF
// orientation is applied there (data/exif_orientation.h), not here.
//
// What is read: 8-bit baseline, extended and progressive JPEGs, Huffman or arithmetic coded,
// restart markers, any chroma subsampling; colour spaces gray (1 channel), YCbCr and RGB
// (3 channels), CMYK and YCCK (converted to RGB as PIL does: R = (255 - C)(255 - K) / 255,
// rounded, with Adobe's inverted CMYK taken into account; 3 channels).
//
// Errors are std::runtime_error naming the file (data/image_io.h):
//   "is not a JPEG libjpeg can read (<libjpeg's message>)"   header problems, 12-bit files, ...
//   "has N colour components in colour space S, ..."          neither gray, colour nor CMYK
//   "is too large: WxH = N pixels exceeds the limit of M"     from the header, before decoding
//   "is truncated or corrupt (<libjpeg's message>)"           in the image data, or the file
//                                                              ends before its last row
// Corrupt data that libjpeg recovers from (a bad Huffman code, extraneous bytes) decodes, as it
// does in viewers and in PIL; libjpeg's warnings are not printed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "data/image.h"

namespace srgan::data {

// True when the bytes start with a JPEG's start-of-image marker FF D8.
inline bool looks_like_jpeg(const uint8_t* b, size_t n) { return n >= 2 && b[0] == 0xFF && b[1] == 0xD8; }

struct JpegHeader {
  int width = 0, height = 0;  // as stored (before any EXIF turn)
  int channels = 0;           // as the decoder returns them when asked for "stored": 1 or 3
};

// The header of the JPEG file `f` (read from its current position up to the first scan).
JpegHeader read_jpeg_header(std::FILE* f, const std::string& name, int64_t max_pixels);

// Decodes JPEG bytes to `channels` channels (1 gray, 3 RGB, 4 RGBA with alpha 255; 0: as stored,
// see JpegHeader). Colour becomes gray as stb_image does it, (77 R + 150 G + 29 B) >> 8, so a
// gray read is the same for every format.
Image decode_jpeg(const uint8_t* bytes, size_t n, const std::string& name, int64_t max_pixels, int channels);

}  // namespace srgan::data
