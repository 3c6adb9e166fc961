// Artefact metrics of a super-resolved image against its original, beside PSNR/SSIM
// (data/metrics.h), for what PSNR averages away: a fixed pattern tied to the upsampler's grid, a
// colour cast, and missing (or invented) detail. All are taken over the evaluated region, the
// image without `border` pixels on each side, as PSNR_Y; Y is data/metrics.h's luma_bt601. The
// formulas are in docs/data.md ("Artefact metrics").
//
//   fixed pattern   std over the s*s phases (y mod s, x mod s) of the mean Y residual SR - HR of
//                   each phase, in 8-bit levels; s = the period (the scale: 16 phases at x4).
//                   Phases count from the image's origin, not the region's, so they follow the
//                   upsampler's grid whatever the border. A constant offset does not count.
//   colour shift    mean(SR - HR) per channel (R, G, B), in levels; a gray image has one value.
//   sharpness       mean Sobel gradient magnitude of SR's Y over HR's Y, each taken at the
//                   region's pixels whose 3x3 neighbourhood lies inside the region (NaN when HR's
//                   is 0: a flat original has no detail to compare with).
//
// LAYOUT: uint8 HWC images (data/image.h); Y planes are ImageD (H, W, 1).
#pragma once
#include <vector>

#include "data/image.h"

namespace srgan::data {

struct Artifacts {
  double fixed_pattern = 0.0;  // levels, >= 0
  // levels, one per channel of the images: R, G, B, or the one gray value
  std::vector<double> colour_shift;
  double sharpness = 0.0;      // ratio, 1 = as much gradient as the original
};

// Population standard deviation of the period*period phase means of sr_y - hr_y over the plane
// without `border` pixels on each side. The region must hold every phase (>= period per side).
double fixed_pattern_amplitude(const ImageD& hr_y, const ImageD& sr_y, int border, int period);
// mean(sr - hr) per channel over the image without `border` pixels on each side.
std::vector<double> colour_shift(const Image& hr, const Image& sr, int border);
// Mean of sqrt(gx^2 + gy^2) over the positions of `plane` whose 3x3 neighbourhood lies inside it,
// with the Sobel operator normalised to a derivative: gx = ([1 2 1]^T [-1 0 1]) * plane / 8 (so a
// ramp a*x + b*y gives exactly sqrt(a^2 + b^2)). The plane must be at least 3x3.
double mean_gradient_magnitude(const ImageD& plane);
// mean_gradient_magnitude(sr_y) / mean_gradient_magnitude(hr_y), both shaved by `border`.
double sharpness_ratio(const ImageD& hr_y, const ImageD& sr_y, int border);

// data/metrics.h's evaluate_pair() computes all three beside PSNR/SSIM from the same Y planes.

}  // namespace srgan::data
