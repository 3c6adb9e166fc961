// Image quality as super-resolution papers report it: PSNR and SSIM on the luma (Y) channel with
// `border` pixels removed on every side, plus PSNR over all RGB samples.
//
// Y (BT.601, the MATLAB rgb2ycbcr row): Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, in
// double. LumaMode::Uint8 then rounds Y half up to an integer, which is what MATLAB's
// rgb2ycbcr returns for uint8 images and what the classic evaluation scripts (and thus the
// published bicubic tables) used; LumaMode::Double keeps it unrounded (as scripts that convert
// to double first). A 1-channel (gray) image is its own Y, with no 16..235 rescaling, as MATLAB
// scripts do (`if size(im, 3) == 1, y = im`). docs/data.md gives the numbers for both modes.
//
// SSIM is Wang et al.'s ssim_index.m: 11x11 Gaussian window (sigma 1.5, normalised to sum 1),
// filter2 'valid', K1 = 0.01, K2 = 0.03, L = 255, mean of the SSIM map; no downsampling.
//
// evaluate_pair() also gives the artefact metrics of data/artifact_metrics.h (fixed pattern,
// colour shift, sharpness ratio) from the same Y planes and region: one call scores a pair.
//
// LAYOUT: images are HWC uint8 (data/image.h); a Y plane is an ImageD with channels == 1,
// shape (H, W, 1). HR and SR must have the same size and channel count.
#pragma once
#include "data/artifact_metrics.h"
#include "data/image.h"

namespace srgan::data {

enum class LumaMode { Uint8, Double };

// The Y plane (H, W, 1) of a 1- or 3-channel image (alpha channels are rejected).
ImageD luma_bt601(const Image& img, LumaMode mode = LumaMode::Uint8);
// The plane without `border` pixels on each side.
ImageD shave(const ImageD& plane, int border);

// 10 log10(peak^2 / MSE) over all samples; +infinity for identical inputs.
double psnr(const ImageD& a, const ImageD& b, double peak = 255.0);
// Wang's SSIM of two 1-channel planes (both at least 11x11).
double ssim(const ImageD& a, const ImageD& b, double L = 255.0);

struct Quality {
  double psnr_y = 0.0;    // dB, Y channel, border removed
  double ssim_y = 0.0;    // Y channel, border removed
  double psnr_rgb = 0.0;  // dB, all channels of the uint8 images, border removed
  Artifacts artifacts;    // fixed pattern, colour shift, sharpness ratio; same Y and region
};

// Every number for one HR / SR pair (uint8, same size and channels) with `border` (= the scale)
// pixels removed; the fixed pattern over `period` x `period` phases (the upsampler's: 4 at x4).
// This is the call for training validation as well as `srgan eval`.
Quality evaluate_pair(const Image& hr, const Image& sr, int border, LumaMode mode = LumaMode::Uint8, int period = 4);
// PSNR over every channel of two uint8 images with `border` pixels removed.
double psnr_rgb(const Image& hr, const Image& sr, int border);

}  // namespace srgan::data
