// 4x upscaling of an image of any size in bounded memory: the LR image is cut into tiles of
// `tile` x `tile` pixels that overlap by `overlap` pixels, each tile goes through the
// generator alone (only one tile is ever on the device), and the overlapping outputs are
// blended: each tile's zero-padded border quarter of an overlap is dropped and the middle half
// is cross-faded linearly with its neighbour. Finished HR rows are
// handed to a sink in order and dropped, so the float accumulator holds at most one band of
// tile rows. A NaN or Inf in a tile's output is an error that names the tile.
#pragma once
#include <functional>

#include "data/image.h"
#include "models/srresnet.h"

namespace srgan::app {

struct TileOptions {
  int tile = 256;    // LR tile side
  int overlap = 32;  // LR pixels shared by neighbouring tiles; must be < tile (see docs/performance.md)
};

// Receives HR row y (0, 1, 2, ... in order): 4W RGB floats in [0, 1], (4W, 3).
using RowSink = std::function<void(int y, const float* row)>;
// Called after each tile: (tiles done, tiles in all).
using TileProgress = std::function<void(int done, int total)>;

// Fills out (h, w, 3) with the LR pixels x0 .. x0+w-1, y0 .. y0+h-1 as RGB floats in [0, 1]:
// the tiles are read through it, so the caller can keep the image in its own format (8-bit,
// 16-bit) instead of a float copy of all of it.
using TileReader = std::function<void(int x0, int y0, int w, int h, float* out)>;

// Reads tiles of a decoded image (H, W, C) with C = 1-4 as RGB floats in [0, 1]: gray replicated,
// alpha (C = 2 or 4) left out, 8-bit over 255, 16-bit over 65535. `img` must outlive the reader.
TileReader colour_tile_reader(const data::Image& img);
TileReader colour_tile_reader(const data::Image16& img);

// An LR image of width x height read through `read`. `what` names the image in errors.
void upscale_tiled(SRResNet& g, int width, int height, const TileReader& read, const TileOptions& opt, Device device,
                   const RowSink& sink, const std::string& what, const TileProgress& progress = {});
// rgb: (H, W, 3) floats in [0, 1].
void upscale_tiled(SRResNet& g, const data::ImageF& rgb, const TileOptions& opt, Device device, const RowSink& sink,
                   const std::string& what, const TileProgress& progress = {});

// An 8-bit gray (1) or RGB (3) image through upscale_tiled; returns the same channel count
// (gray: mean of the network's RGB output), rounded half up.
data::Image upscale_image(SRResNet& g, const data::Image& lr, const TileOptions& opt, Device device,
                          const std::string& what);

// Tile origins along one axis of length n: 0, step, 2*step, ..., with the last flush with the end.
std::vector<int> tile_origins(int n, int tile, int overlap);

}  // namespace srgan::app
