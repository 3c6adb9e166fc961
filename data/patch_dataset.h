// Training patches: random HR crops and their LR, from DIV2K or any folder of images.
//
// The sample stream. Sample number s (0, 1, 2, ...) of seed `seed` is a pure function of
// (seed, s) and the files: with k = patches_per_visit, visit v = s / k; epoch e = v / N visits
// the N usable images in a permutation drawn from (seed, e); sample s uses image perm_e[v % N];
// its crop position and orientation come from a counter-based generator keyed by (seed, s).
// (k > 1 takes k crops from an image while it is decoded: for sets larger than the cache.) So batches are reproducible whatever the number
// of threads, and (seed, next sample) is the whole state needed to resume exactly.
//
// LR. With an LR file for the image (DIV2K_*_LR_bicubic/X<scale>/<stem>x<scale>.png, or
// options.lr_dir) the crop is placed on the scale grid and the LR patch is cropped from the LR
// file at (x / scale, y / scale). Otherwise the LR patch is our MATLAB-exact bicubic
// downscaling (data/resize.h) of the HR crop itself. Augmentation (one of 8 orientations,
// data/augment.h) is applied to both afterwards.
//
// Bad files. The folder is scanned once (headers only). Missing folder, a path that is not a
// folder, an unreadable folder, a folder without image files, or one where every image is
// skipped: std::runtime_error naming the folder. A file that is not a readable image (text
// named .png, zero bytes, ...) or is smaller than the crop: skipped with a warning naming it.
// A file whose header reads but whose pixels do not decode (truncated): a warning naming it
// when first met, then that sample uses the next usable image of the epoch's order instead
// (deterministic: it depends only on which files are bad).
//
// LAYOUT: patches are HWC; float output is (patch, patch, 3) in [0, 1], v / 255, RGB
// (gray files are replicated, alpha dropped).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/image_cache.h"
#include "data/image_io.h"

namespace srgan::data {

struct DatasetOptions {
  int scale = 4;
  int patch = 96;                          // HR crop side; a multiple of scale
  bool augment = true;                     // the 8 orientations
  int patches_per_visit = 1;               // consecutive samples cropped from one image
  std::string split = "train";             // DIV2K_<split>_HR
  std::string lr_dir;                      // explicit LR folder; "" = DIV2K layout or none
  bool use_lr_files = true;                // false: always downscale the HR crop ourselves
  size_t cache_bytes = size_t(1) << 30;    // decoded-image cache (HR and LR together)
  int64_t max_pixels = kDefaultMaxPixels;  // per image
  // Receives every warning (one line, names the file). Default: "warning: ..." on stderr.
  std::function<void(const std::string&)> warn;
};

struct ImageEntry {
  std::string hr_path;
  std::string lr_path;  // "" when the LR is made by bicubic
  int width = 0, height = 0;
};

// Where one sample came from.
struct PatchRef {
  size_t image = 0;     // index into images()
  int x = 0, y = 0;     // HR crop's top-left corner
  int orientation = 0;  // 0..7, data/augment.h
  bool from_lr_file = false;
};

class PatchDataset {
 public:
  explicit PatchDataset(const std::string& dir, DatasetOptions opt = {});

  const std::vector<ImageEntry>& images() const { return images_; }
  size_t num_images() const { return images_.size(); }
  const DatasetOptions& options() const { return opt_; }
  const std::string& hr_dir() const { return hr_dir_; }
  int patch() const { return opt_.patch; }
  int lr_patch() const { return opt_.patch / opt_.scale; }
  static constexpr int channels() { return 3; }
  size_t hr_floats() const { return size_t(patch()) * patch() * channels(); }        // (patch, patch, 3)
  size_t lr_floats() const { return size_t(lr_patch()) * lr_patch() * channels(); }  // (lr, lr, 3)

  // The sample as uint8 HR (patch, patch, 3) and LR (patch/scale, patch/scale, 3) images.
  PatchRef sample(uint64_t seed, uint64_t index, Image* hr, Image* lr) const;
  // The same as floats in [0, 1] into caller buffers of hr_floats() and lr_floats() floats.
  PatchRef sample(uint64_t seed, uint64_t index, float* hr, float* lr) const;
  // The image sample `index` is planned to use (before any bad-file substitution).
  size_t image_of(uint64_t seed, uint64_t index) const;

  ImageCache::Stats cache_stats() const { return cache_.stats(); }

 private:
  std::shared_ptr<const std::vector<uint32_t>> permutation(uint64_t seed, uint64_t epoch) const;
  PatchRef plan(uint64_t seed, uint64_t index, size_t image) const;
  ImageCache::ImagePtr load(const std::string& path) const;
  bool is_bad(size_t image) const;
  void mark_bad(size_t image, const std::string& why) const;

  DatasetOptions opt_;
  std::string hr_dir_;
  std::vector<ImageEntry> images_;
  mutable ImageCache cache_;
  mutable std::mutex warn_mu_;  // warnings from worker threads reach opt_.warn one at a time
  mutable std::mutex mu_;       // guards the members below
  mutable std::set<size_t> bad_;
  mutable uint64_t perm_seed_ = 0, perm_epoch_ = ~uint64_t(0);
  mutable std::shared_ptr<const std::vector<uint32_t>> perm_;
};

}  // namespace srgan::data
