// A bounds check of a PNG file before stb_image decodes it. stb_image 2.27 grows its buffer of
// compressed data to whatever a chunk's length claims, and lets the inflated data grow up to
// 4 GB: a 100-byte file made it ask for 2 GB (found by tests/fuzz/fuzz_image_read), and a few
// MB of deflate could ask for 4 GB whatever the pixel limit says. We walk the chunks (each must
// fit in the bytes that remain) and inflate the image data with zlib into a small scratch buffer,
// only counting: it must not come to more than the header's width, height, bit depth, colour
// type and interlacing need. The file must reach its IEND chunk. Corrupt data that stays within
// that is left to stb to judge. Apple's CgBI variant (raw deflate) is refused.
//
// Zero-length IDAT chunks are valid PNG, but stb_image 2.27 copies the first one's 0 bytes to a
// null buffer (memcpy(NULL, p, 0): undefined behaviour that UBSan reports and an optimiser may
// build on; found by the fuzzer). Dropping them changes no image: the compressed stream is the
// IDAT data concatenated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace srgan::data {

// "" when the PNG `b[0, n)` (signature included) may go to stb_image; otherwise what is wrong,
// for the message "is truncated or corrupt (<what>)".
std::string png_structure_problem(const uint8_t* b, size_t n);

// A copy of the PNG `b[0, n)` without its zero-length IDAT chunks, or an empty vector when it has
// none (the common case: no copy). Call it only after png_structure_problem found nothing.
std::vector<uint8_t> png_without_empty_idat(const uint8_t* b, size_t n);

}  // namespace srgan::data
