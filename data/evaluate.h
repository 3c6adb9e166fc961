// The evaluation protocol of super-resolution papers, as a library call (`srgan eval` prints it):
// for every image of a folder (sorted by name): modcrop to the scale, make the LR by
// MATLAB-exact bicubic downscaling (data/resize.h), upscale it with the method under test, and
// score the result against the HR with data/metrics.h (Y channel, border = scale; the fixed
// pattern over scale x scale phases).
//
// Images are read with ChannelMode::GrayOrRgb: a gray file stays 1 channel (its own Y), RGBA
// loses alpha. An upscaler receives the LR in that same layout and must return an image of
// exactly the HR's size and channel count.
//
// LAYOUT: uint8 HWC images (data/image.h).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/metrics.h"

namespace srgan::data {

// An upscaling method: LR (h, w, c) -> SR (h * scale, w * scale, c).
using Upscaler = std::function<Image(const Image& lr)>;

// MATLAB imresize(lr, scale, 'bicubic'): the baseline of every SR table.
Upscaler bicubic_upscaler(int scale);

struct ImageScore {
  std::string name;  // file name without folder
  int width = 0, height = 0, channels = 0;  // after modcrop
  Quality q;
};

struct EvalSummary {
  std::string dir;
  int scale = 4;
  LumaMode luma = LumaMode::Uint8;
  std::vector<ImageScore> images;
  Quality mean;  // arithmetic mean of the per-image numbers (PSNR averaged in dB, as papers do)
};

// The mean of the images' artefact metrics. Colour shift: R, G, B when any image has colour, a
// gray image's one value counting for each channel; one value when all are gray.
Artifacts mean_artifacts(const std::vector<ImageScore>& images);

// The images evaluate_folder will score: the files of `dir`, or of dir/DIV2K_valid_HR when dir
// is an unpacked DIV2K folder. Throws naming the folder when it is missing, unreadable or empty.
std::vector<std::string> evaluation_files(const std::string& dir);

// Throws std::runtime_error naming the folder (missing, not a folder, no images) or the file
// (unreadable, too small for the scale and SSIM window, upscaler returned the wrong size).
// `progress` (optional) is called after each image with (score, index, count).
EvalSummary evaluate_folder(const std::string& dir, int scale, const Upscaler& upscale, LumaMode luma = LumaMode::Uint8,
                            const std::function<void(const ImageScore&, size_t, size_t)>& progress = {});

}  // namespace srgan::data
