// EXIF orientation: cameras and phones store a JPEG as the sensor saw it and record in the EXIF
// Orientation tag (0x0112) how to turn it for display. stb_image ignores the tag, so without
// this a portrait photo would be upscaled and written lying on its side. Viewers, PIL's
// ImageOps.exif_transpose and OpenCV's imread all apply it; so does our reader (image_read.cpp).
//
// The values (TIFF 6.0 / EXIF 2.3), as the transform from the stored image to the displayed one:
//   1 as stored           2 mirrored left-right     3 rotated 180          4 mirrored top-bottom
//   5 transposed (main diagonal)   6 rotated 90 clockwise   7 transversed (anti-diagonal)
//   8 rotated 90 counter-clockwise
// 5 to 8 swap width and height.
#pragma once
#include <cstddef>
#include <cstdint>

#include "data/image.h"

namespace srgan::data {

// The Orientation of a JPEG's first EXIF block, from the file's first bytes (the EXIF block sits
// right after the start of the file). 1 when the bytes are not a JPEG, have no EXIF or no tag,
// or anything in them is malformed or out of range: a broken EXIF block never makes a readable
// image unreadable. Reads only within [bytes, bytes + n).
int jpeg_exif_orientation(const uint8_t* bytes, size_t n);
// How many leading bytes of a file the readers search for it (the same for read_image_info and
// the decoders, so the size one reports is the size the other returns). APP1 is at most 64 KiB.
constexpr size_t kExifSearchBytes = size_t(128) << 10;

// The displayed image: `img` turned as `orientation` (1-8) says; other values leave it as is.
Image apply_orientation(const Image& img, int orientation);
Image16 apply_orientation(const Image16& img, int orientation);

inline bool orientation_swaps_sides(int orientation) { return orientation >= 5 && orientation <= 8; }

}  // namespace srgan::data
