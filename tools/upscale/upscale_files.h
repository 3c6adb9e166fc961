// Upscaling image files: planning (inputs and folders -> output paths) and one file end to end
// (read, split colour and alpha, tiled generator on the colour, bicubic on the alpha, PNG of the
// same bit depth streamed to a temporary file row by row as the tiles finish and renamed into
// place when complete). Used by `srgan upscale` and its tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "models/srresnet.h"
#include "tools/upscale/tiled_upscaler.h"

namespace srgan::app {

// The largest input `srgan upscale` reads: 2^28 pixels (16384 x 16384). Other readers keep
// data/image_io.h's 2^26 guard against decompression bombs; here the user picked the file.
// Within that, memory is planned (plan_upscale_memory) and bounded by TileOptions::memory_budget.
constexpr int64_t kUpscaleMaxPixels = int64_t(1) << 28;

// Where the memory of one upscale goes, in bytes (an estimate; docs/performance.md holds the
// measured peaks beside it):
//   base         the program, the generator's weights, the CPU libraries' buffers
//   tiles        the generator's activations for one tile on the CPU (about 9.5 KB per LR
//                pixel of the tile: 620 MB at 256 x 256); on a GPU only the tile's output
//   decoded      the input as decoded, W * H * C * (bits / 8); it stays for the whole run
//   decode_peak  while decoding: the file's bytes, the decoder's buffers and the result
//   band         the blended rows of one band of tiles, 256 * tile_h * W (tiled_upscaler.h)
// The peak is the larger of base + decode_peak and base + tiles + decoded + band; the band gets
// what the budget leaves, up to a full tile's height.
struct UpscaleMemory {
  int64_t base = 0, tiles = 0, decoded = 0, decode_peak = 0, band_budget = 0;
};
// Throws naming the file, the MB it needs and what to change (--memory-mb, --tile) when the
// image cannot be upscaled within opt.memory_budget.
UpscaleMemory plan_upscale_memory(const std::string& path, const data::ImageInfo& info, int64_t file_bytes,
                                  const TileOptions& opt, Device device);

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
