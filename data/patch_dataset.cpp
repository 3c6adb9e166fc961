// Training patch sampling (see data/patch_dataset.h): folder scan with named warnings, the
// seeded sample stream, HR/LR crops, augmentation, bad-file substitution.
#include "data/patch_dataset.h"

#include <cstdio>
#include <stdexcept>

#include "data/augment.h"
#include "data/image_folder.h"
#include "data/resize.h"
#include "data/rng.h"

namespace srgan::data {
namespace {

enum RngDomain : uint64_t { kPermutation = 1, kCrop = 2 };

std::string size_text(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

}  // namespace

PatchDataset::PatchDataset(const std::string& dir, DatasetOptions opt) : opt_(std::move(opt)), cache_(opt_.cache_bytes) {
  if (!opt_.warn) opt_.warn = [](const std::string& m) { std::fprintf(stderr, "warning: %s\n", m.c_str()); };
  if (opt_.scale < 1 || opt_.patch < opt_.scale || opt_.patch % opt_.scale != 0)
    throw std::runtime_error("dataset '" + dir + "': the crop (" + std::to_string(opt_.patch) +
                             ") must be a positive multiple of the scale (" + std::to_string(opt_.scale) + ")");
  if (opt_.patches_per_visit < 1)
    throw std::runtime_error("dataset '" + dir + "': patches_per_visit must be >= 1");
  const FolderLayout layout = resolve_layout(dir, opt_.scale, opt_.split, opt_.lr_dir);
  hr_dir_ = layout.hr_dir;
  const std::vector<std::string> files = list_image_files(hr_dir_);  // throws: missing / not a folder / unreadable
  if (files.empty())
    throw std::runtime_error("dataset folder '" + hr_dir_ + "' holds no image files (.png .jpg .jpeg .bmp)");
  const std::string lr_dir = opt_.use_lr_files ? layout.lr_dir : "";
  for (const std::string& f : files) {
    ImageEntry e;
    e.hr_path = f;
    try {
      const ImageInfo info = read_image_info(f, opt_.max_pixels);
      e.width = info.width;
      e.height = info.height;
    } catch (const std::exception& ex) {
      opt_.warn(std::string("dataset: skipping ") + ex.what());
      continue;
    }
    if (e.width < opt_.patch || e.height < opt_.patch) {
      opt_.warn("dataset: skipping image file '" + f + "': " + size_text(e.width, e.height) +
                " is smaller than the " + size_text(opt_.patch, opt_.patch) + " crop");
      continue;
    }
    const std::string lr = lr_file_for(f, lr_dir, opt_.scale);
    if (!lr.empty()) {
      try {
        const ImageInfo li = read_image_info(lr, opt_.max_pixels);
        if (li.width == e.width / opt_.scale && li.height == e.height / opt_.scale)
          e.lr_path = lr;
        else
          opt_.warn("dataset: LR file '" + lr + "' is " + size_text(li.width, li.height) + ", expected " +
                    size_text(e.width / opt_.scale, e.height / opt_.scale) + "; using bicubic for '" + f + "'");
      } catch (const std::exception& ex) {
        opt_.warn(std::string("dataset: ignoring LR ") + ex.what() + "; using bicubic for '" + f + "'");
      }
    }
    images_.push_back(std::move(e));
  }
  if (images_.empty())
    throw std::runtime_error("dataset folder '" + hr_dir_ + "': none of its " + std::to_string(files.size()) +
                             " image files is usable (see the warnings)");
}

std::shared_ptr<const std::vector<uint32_t>> PatchDataset::permutation(uint64_t seed, uint64_t epoch) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (perm_ && perm_seed_ == seed && perm_epoch_ == epoch) return perm_;
  }
  auto p = std::make_shared<std::vector<uint32_t>>(images_.size());
  for (size_t i = 0; i < p->size(); ++i) (*p)[i] = uint32_t(i);
  CounterRng rng(seed, epoch, kPermutation);
  for (size_t i = p->size(); i > 1; --i) std::swap((*p)[i - 1], (*p)[rng.below(i)]);  // Fisher-Yates
  std::lock_guard<std::mutex> lock(mu_);
  perm_seed_ = seed;
  perm_epoch_ = epoch;
  perm_ = p;
  return p;
}

size_t PatchDataset::image_of(uint64_t seed, uint64_t index) const {
  const uint64_t n = images_.size(), visit = index / uint64_t(opt_.patches_per_visit);
  return (*permutation(seed, visit / n))[visit % n];
}

PatchRef PatchDataset::plan(uint64_t seed, uint64_t index, size_t image) const {
  const ImageEntry& e = images_[image];
  CounterRng rng(seed, index, kCrop);
  PatchRef r;
  r.image = image;
  r.from_lr_file = !e.lr_path.empty();
  if (r.from_lr_file) {  // on the scale grid, so the LR crop sits at (x, y) / scale
    const int s = opt_.scale, lp = lr_patch();
    r.x = int(rng.below(uint64_t(e.width / s - lp + 1))) * s;
    r.y = int(rng.below(uint64_t(e.height / s - lp + 1))) * s;
  } else {
    r.x = int(rng.below(uint64_t(e.width - opt_.patch + 1)));
    r.y = int(rng.below(uint64_t(e.height - opt_.patch + 1)));
  }
  r.orientation = opt_.augment ? int(rng.below(kNumOrientations)) : 0;
  return r;
}

ImageCache::ImagePtr PatchDataset::load(const std::string& path) const {
  return cache_.get(path, [&] {
    ReadOptions ro;
    ro.channels = ChannelMode::Rgb;
    ro.max_pixels = opt_.max_pixels;
    return read_image(path, ro);
  });
}

bool PatchDataset::is_bad(size_t image) const {
  std::lock_guard<std::mutex> lock(mu_);
  return bad_.count(image) > 0;
}

void PatchDataset::mark_bad(size_t image, const std::string& why) const {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = bad_.insert(image).second;
  }
  if (!first) return;
  std::lock_guard<std::mutex> lock(warn_mu_);
  opt_.warn("dataset: skipping from now on: " + why);
}

PatchRef PatchDataset::sample(uint64_t seed, uint64_t index, Image* hr, Image* lr) const {
  const size_t n = images_.size();
  const uint64_t visit = index / uint64_t(opt_.patches_per_visit);
  const auto perm = permutation(seed, visit / n);
  const size_t pos = size_t(visit % n);
  for (size_t k = 0; k < n; ++k) {
    const size_t image = (*perm)[(pos + k) % n];
    if (is_bad(image)) continue;
    const ImageEntry& e = images_[image];
    try {
      const PatchRef r = plan(seed, index, image);
      const ImageCache::ImagePtr full = load(e.hr_path);
      if (full->width != e.width || full->height != e.height)
        throw std::runtime_error("image file '" + e.hr_path + "' decoded to " + size_text(full->width, full->height) +
                                 " but its header says " + size_text(e.width, e.height));
      Image hr_crop = crop(*full, r.x, r.y, opt_.patch, opt_.patch);
      Image lr_crop;
      if (r.from_lr_file) {
        const ImageCache::ImagePtr lr_full = load(e.lr_path);
        lr_crop = crop(*lr_full, r.x / opt_.scale, r.y / opt_.scale, lr_patch(), lr_patch());
      } else {
        lr_crop = downscale_bicubic(hr_crop, opt_.scale);
      }
      *hr = r.orientation ? orient(hr_crop, r.orientation) : std::move(hr_crop);
      *lr = r.orientation ? orient(lr_crop, r.orientation) : std::move(lr_crop);
      return r;
    } catch (const std::runtime_error& ex) {
      mark_bad(image, ex.what());
    }
  }
  throw std::runtime_error("dataset folder '" + hr_dir_ + "': none of its " + std::to_string(n) +
                           " images could be decoded (see the warnings)");
}

PatchRef PatchDataset::sample(uint64_t seed, uint64_t index, float* hr, float* lr) const {
  Image h, l;
  const PatchRef r = sample(seed, index, &h, &l);
  to_float01(h, hr);
  to_float01(l, lr);
  return r;
}

}  // namespace srgan::data
