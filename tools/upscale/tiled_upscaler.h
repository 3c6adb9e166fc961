// 4x upscaling of an image of any size in bounded memory: the LR image is cut into tiles of
// `tile` x `tile` pixels that overlap by `overlap` pixels, each tile goes through the
// generator alone (only one tile is ever on the device), and the overlapping outputs are
// blended: each tile's zero-padded border quarter of an overlap is dropped and the middle half
// is cross-faded linearly with its neighbour. Finished HR rows are handed to a sink in order and
// dropped, so the float accumulator holds one band of tile rows: 4*tile_h HR rows of the whole
// 4x width, 16 bytes a pixel, i.e. 256 * tile_h * W bytes for an LR width W. For wide images the
// band would outgrow `band_budget`, so the tiles get shorter (tile_h < tile, the vertical overlap
// at most half of it) and wider (tile * tile pixels, so the generator's activations stay those
// of a full tile); see plan_tiles. A NaN or Inf in a tile's output is an error that names
// the tile.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "data/image.h"
#include "models/srresnet.h"

namespace srgan::app {

struct TileOptions {
  int tile = 256;    // LR tile side
  int overlap = 32;  // LR pixels shared by neighbouring tiles; must be < tile (see docs/performance.md)
  int64_t band_budget = int64_t(512) << 20;  // bytes for the band of blended HR rows
  // The bound on the whole process that upscale_file plans within (--memory-mb): it sets
  // band_budget from what the tiles and the decoded input leave (upscale_files.h).
  int64_t memory_budget = int64_t(1536) << 20;
};

// The tiling of one image under TileOptions: tiles of tile_w x tile_h LR pixels, overlapping by
// overlap_x / overlap_y, and the bytes of the band accumulator (256 * tile_h * W).
struct TilePlan {
  int tile_w = 0, tile_h = 0, overlap_x = 0, overlap_y = 0;
  int64_t band_bytes = 0;
};
// tile_h = the largest height <= tile whose band fits band_budget (at least kMinTileHeight), and
// tile_w = tile * tile / tile_h when tile_h had to shrink; throws naming `what` when even
// kMinTileHeight rows do not fit (an image too wide for the budget).
constexpr int kMinTileHeight = 16;
TilePlan plan_tiles(int width, int height, const TileOptions& opt, const std::string& what);

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
