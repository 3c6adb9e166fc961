// Folder evaluation (see data/evaluate.h): modcrop, bicubic LR, upscale, score, mean.
#include "data/evaluate.h"

#include <filesystem>
#include <stdexcept>

#include "data/image_folder.h"
#include "data/image_io.h"
#include "data/resize.h"

namespace srgan::data {

Upscaler bicubic_upscaler(int scale) {
  if (scale < 1) throw std::runtime_error("bicubic_upscaler: scale must be >= 1, got " + std::to_string(scale));
  return [scale](const Image& lr) { return upscale_bicubic(lr, scale); };
}

std::vector<std::string> evaluation_files(const std::string& dir) {
  const FolderLayout layout = resolve_layout(dir, 4, "valid");  // the scale only names LR folders
  const std::vector<std::string> files = list_image_files(layout.hr_dir);
  if (files.empty())
    throw std::runtime_error("evaluation folder '" + layout.hr_dir + "' holds no image files (.png .jpg .jpeg .bmp)");
  return files;
}

Artifacts mean_artifacts(const std::vector<ImageScore>& images) {
  Artifacts m;
  if (images.empty()) return m;
  bool any_colour = false;
  for (const auto& sc : images) any_colour |= sc.q.artifacts.colour_shift.size() == 3;
  m.colour_shift.assign(any_colour ? 3 : 1, 0.0);
  for (const auto& sc : images) {
    const Artifacts& a = sc.q.artifacts;
    m.fixed_pattern += a.fixed_pattern;
    m.sharpness += a.sharpness;
    // A gray image's one shift counts for each of R, G and B (its R = G = B).
    for (size_t c = 0; c < m.colour_shift.size(); ++c)
      m.colour_shift[c] += a.colour_shift[a.colour_shift.size() == 1 ? 0 : c];
  }
  const double n = double(images.size());
  m.fixed_pattern /= n;
  m.sharpness /= n;
  for (double& v : m.colour_shift) v /= n;
  return m;
}

EvalSummary evaluate_folder(const std::string& dir, int scale, const Upscaler& upscale, LumaMode luma,
                            const std::function<void(const ImageScore&, size_t, size_t)>& progress) {
  if (scale < 1) throw std::runtime_error("evaluate: scale must be >= 1, got " + std::to_string(scale));
  const std::vector<std::string> files = evaluation_files(dir);
  EvalSummary s;
  s.dir = dir;
  s.scale = scale;
  s.luma = luma;
  ReadOptions ro;
  ro.channels = ChannelMode::GrayOrRgb;
  for (size_t i = 0; i < files.size(); ++i) {
    const Image hr = modcrop(read_image(files[i], ro), scale);
    // SSIM needs 11x11 after removing `scale` pixels on each side.
    if (hr.width < 11 + 2 * scale || hr.height < 11 + 2 * scale)
      throw std::runtime_error("image file '" + files[i] + "' is too small to evaluate at scale " + std::to_string(scale));
    const Image sr = upscale(downscale_bicubic(hr, scale));
    if (sr.width != hr.width || sr.height != hr.height || sr.channels != hr.channels)
      throw std::runtime_error("image file '" + files[i] + "': the upscaler returned " + std::to_string(sr.width) + "x" +
                               std::to_string(sr.height) + "x" + std::to_string(sr.channels) + ", expected " +
                               std::to_string(hr.width) + "x" + std::to_string(hr.height) + "x" +
                               std::to_string(hr.channels));
    ImageScore sc;
    sc.name = std::filesystem::path(files[i]).filename().string();
    sc.width = hr.width;
    sc.height = hr.height;
    sc.channels = hr.channels;
    sc.q = evaluate_pair(hr, sr, scale, luma, scale);
    s.images.push_back(sc);
    if (progress) progress(sc, i, files.size());
  }
  for (const auto& sc : s.images) {
    s.mean.psnr_y += sc.q.psnr_y;
    s.mean.ssim_y += sc.q.ssim_y;
    s.mean.psnr_rgb += sc.q.psnr_rgb;
  }
  const double n = double(s.images.size());
  s.mean.psnr_y /= n;
  s.mean.ssim_y /= n;
  s.mean.psnr_rgb /= n;
  s.mean.artifacts = mean_artifacts(s.images);
  return s;
}

}  // namespace srgan::data
