// The 8 orientations of a square's symmetry group (flips and 90-degree rotations), for training
// augmentation. Orientation o in 0..7 has three bits:
//   bit 2 (4): transpose (swap x and y)      applied first,
//   bit 0 (1): flip left-right               then,
//   bit 1 (2): flip top-bottom               last.
// So 0 identity, 1 flip LR, 2 flip TB, 3 rotate 180, 4 transpose, 5 rotate 90 clockwise,
// 6 rotate 90 counter-clockwise, 7 anti-transpose: all 8 are distinct. HR and LR patches get
// the same o.
//
// LAYOUT: HWC in and out (data/image.h); a transposing orientation swaps width and height.
#pragma once
#include "data/image.h"

namespace srgan::data {

constexpr int kNumOrientations = 8;

// out = orientation o applied to img.
Image orient(const Image& img, int o);
// The inverse: unorient(orient(img, o), o) == img.
Image unorient(const Image& img, int o);

}  // namespace srgan::data
