// A bounds check of a PNG file before stb_image decodes it. stb_image 2.27 grows its buffer of
// compressed data to whatever a chunk's length claims, and lets the inflated data grow up to
// 4 GB: a 100-byte file made it ask for 2 GB (found by tests/fuzz/fuzz_image_read), and a few
// MB of deflate could ask for 4 GB whatever the pixel limit says. We walk the chunks (each must
// fit in the bytes that remain) and inflate the image data with zlib into a small scratch buffer,
// only counting: it must not come to more than the header's width, height, bit depth, colour
// type and interlacing need. Corrupt data that stays within that is left to stb to judge. Apple's
// CgBI variant (raw deflate) is refused.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace srgan::data {

// "" when the PNG `b[0, n)` (signature included) may go to stb_image; otherwise what is wrong,
// for the message "is truncated or corrupt (<what>)".
std::string png_structure_problem(const uint8_t* b, size_t n);

}  // namespace srgan::data
