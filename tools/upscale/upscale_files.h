// Upscaling image files: planning (inputs and folders -> output paths) and one file end to end
// (read, split colour and alpha, tiled generator on the colour, bicubic on the alpha, PNG of the
// same bit depth streamed to a temporary file row by row as the tiles finish and renamed into
// place when complete). Used by `srgan upscale` and its tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/srresnet.h"
#include "tools/upscale/tiled_upscaler.h"

namespace srgan::app {

// The largest input `srgan upscale` reads: 2^28 pixels (16384 x 16384). Other readers keep
// data/image_io.h's 2^26 guard against decompression bombs; here the user picked the file, and
// what grows with it is the decoded image (3 bytes a pixel for 8-bit RGB, 0.8 GB at the limit;
// alpha adds a float plane, 4 bytes a pixel); the tiles read it directly and the output streams
// to disk.
constexpr int64_t kUpscaleMaxPixels = int64_t(1) << 28;

struct UpscaleJob {
  std::string in, out;
  bool overwrite = false;  // replace an existing output file (otherwise the job refuses, naming it)
};

// One input file and an `out` that is not an existing folder (nor ends in '/'): out is the
// file. Otherwise `out` is a folder (created) receiving <stem>_x4.png for every input image.
// A folder without images is an error; a missing file is kept and fails when processed.
// Inputs are never destroyed: an output that is one of the inputs (the same file, links
// resolved) refuses the whole plan before anything is written, --overwrite or not, so a folder
// upscaled into itself never takes a previous run's <stem>_x4.png as both input and output.
std::vector<UpscaleJob> plan_upscale_jobs(const std::vector<std::string>& inputs, const std::string& out,
                                          bool overwrite = false);

// Upscales one file; throws with a message naming it. Gray stays gray (mean of the network's
// RGB), alpha is upscaled with MATLAB bicubic and put back, 16-bit PNG stays 16-bit. An existing
// regular output file is replaced only with job.overwrite (a device such as /dev/null is written
// to as it is).
void upscale_file(SRResNet& g, const UpscaleJob& job, const TileOptions& topt, Device dev, bool show_progress);

}  // namespace srgan::app
