// `srgan eval`: the field's evaluation protocol on a folder of HR images (data/evaluate.h):
// modcrop, MATLAB-exact bicubic LR, upscale with the chosen method, PSNR/SSIM on Y with a border
// of `scale` pixels and the artefact metrics (fixed pattern, colour shift, sharpness ratio;
// data/artifact_metrics.h), per-image lines and the mean on stdout, optionally the same as JSON
// (written atomically). Methods: bicubic now; --model FILE is a hook for the generator.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "data/atomic_file.h"
#include "data/evaluate.h"
#include "data/image_io.h"
#include "tools/cli/command.h"
#include "tools/upscale/model_file.h"
#include "tools/upscale/tensor_image.h"
#include "tools/upscale/tiled_upscaler.h"

namespace srgan::cli {
namespace {

using data::Image;
using data::Upscaler;

const char* kUsage =
    "usage: srgan eval --data DIR [--method bicubic | --model FILE] [--scale 4] [--json FILE]\n"
    "                  [--luma uint8|double]\n"
    "\n"
    "Evaluates x<scale> super-resolution the way SR papers do: every image of DIR (png, jpg, bmp;\n"
    "sorted by name) is cropped to a multiple of the scale, downscaled by MATLAB-exact bicubic\n"
    "(imresize, antialiased), upscaled by the method, and compared with the HR on the Y channel\n"
    "(BT.601) with <scale> pixels removed at each border: PSNR (dB), SSIM (Wang et al.), and PSNR\n"
    "over RGB. Gray images are their own Y. Beside them, over the same region (docs/data.md):\n"
    "  FP        fixed pattern: std of the mean Y residual SR - HR over the <scale>^2 pixel phases\n"
    "            (y mod scale, x mod scale), in 8-bit levels (a checkerboard of the upsampler)\n"
    "  dR dG dB  colour shift: mean(SR - HR) per channel, in levels (gray: its one value thrice)\n"
    "  sharp     mean Sobel gradient magnitude of SR's Y over HR's (1: as much detail as HR)\n"
    "\n"
    "options:\n"
    "  --data DIR        folder of HR images (e.g. ../shared/data/Set5, DIV2K_valid_HR, or the\n"
    "                    folder holding DIV2K_valid_HR), required\n"
    "  --method NAME     bicubic (default): MATLAB imresize bicubic upscaling, the baseline\n"
    "  --model FILE      upscale with a trained generator; bicubic is shown beside it\n"
    "  --device D        auto | cpu | cuda, for --model (default auto)\n"
    "  --scale N         2, 3, 4 (default 4)\n"
    "  --json FILE       also write the per-image and mean numbers as JSON (atomic write)\n"
    "  --save-dir DIR    also write each image's LR input (<name>_lr.png) and output (<name>_x4.png)\n"
    "  --luma MODE       uint8 (default): Y rounded as MATLAB rgb2ycbcr on uint8 images, the\n"
    "                    convention of the published tables; double: Y unrounded\n"
    "\n"
    "Bicubic x4 gives 28.42 dB on Set5 and 25.99 on Set14 (published: 28.42 / 26.00).";

// A trained generator (tiled, so any image size fits), on --device.
Upscaler make_model_upscaler(const std::string& model_file, int scale, const std::string& device) {
  if (scale != SRResNet::scale)
    throw std::runtime_error("--model: the generator upscales x" + std::to_string(SRResNet::scale) + ", not x" +
                             std::to_string(scale));
  const Device dev = app::parse_device(device);
  std::shared_ptr<SRResNet> g = app::load_generator(model_file, dev);
  return [g, dev, model_file](const Image& lr) { return app::upscale_image(*g, lr, app::TileOptions{}, dev, model_file); };
}

// Picks the upscaler from --method / --model.
Upscaler pick_upscaler(const Args& args, int scale, std::string* label) {
  if (args.has("model")) {
    if (args.has("method")) throw std::runtime_error("give either --method or --model, not both");
    *label = "model " + args.get("model", "");
    return make_model_upscaler(args.get("model", ""), scale, args.get("device", "auto"));
  }
  const std::string method = args.get("method", "bicubic");
  if (method == "bicubic") {
    *label = "bicubic";
    return data::bicubic_upscaler(scale);
  }
  throw std::runtime_error("unknown --method '" + method + "' (known: bicubic)");
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += ch;
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += ch;
    }
  }
  return o;
}

// JSON has no infinity: identical images (PSNR = inf) are written as null.
std::string json_number(double v, int digits) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string quality_json(const data::Quality& q) {
  const data::Artifacts& a = q.artifacts;
  std::string shift;
  for (size_t c = 0; c < a.colour_shift.size(); ++c) shift += (c ? ", " : "") + json_number(a.colour_shift[c], 6);
  return "\"psnr_y\": " + json_number(q.psnr_y, 6) + ", \"ssim_y\": " + json_number(q.ssim_y, 8) +
         ", \"psnr_rgb\": " + json_number(q.psnr_rgb, 6) + ", \"fixed_pattern\": " + json_number(a.fixed_pattern, 6) +
         ", \"colour_shift\": [" + shift + "], \"sharpness\": " + json_number(a.sharpness, 6);
}

// The artefact columns of one line: FP, dR dG dB (a gray image's one shift thrice), sharp.
void print_artifacts(const data::Artifacts& a) {
  const auto& c = a.colour_shift;
  const size_t g = c.size() == 3 ? 1 : 0, b = c.size() == 3 ? 2 : 0;
  std::printf(" %6.3f %6.2f %6.2f %6.2f %6.3f", a.fixed_pattern, c[0], c[g], c[b], a.sharpness);
}

// `bicubic` (may be null): the baseline on the same images, written beside each image and the mean.
std::string to_json(const data::EvalSummary& s, const std::string& method, const std::string& luma,
                    const data::EvalSummary* bicubic) {
  std::ostringstream o;
  o << "{\n  \"data\": \"" << json_escape(s.dir) << "\",\n  \"method\": \"" << json_escape(method)
    << "\",\n  \"scale\": " << s.scale << ",\n  \"border\": " << s.scale << ",\n  \"luma\": \"" << luma
    << "\",\n  \"count\": " << s.images.size() << ",\n  \"images\": [\n";
  for (size_t i = 0; i < s.images.size(); ++i) {
    const auto& im = s.images[i];
    o << "    {\"name\": \"" << json_escape(im.name) << "\", \"width\": " << im.width << ", \"height\": " << im.height
      << ", \"channels\": " << im.channels << ", " << quality_json(im.q);
    if (bicubic) o << ", \"bicubic\": {" << quality_json(bicubic->images[i].q) << "}";
    o << "}"
      << (i + 1 < s.images.size() ? "," : "") << "\n";
  }
  o << "  ],\n  \"mean\": {" << quality_json(s.mean) << "}";
  if (bicubic) o << ",\n  \"bicubic_mean\": {" << quality_json(bicubic->mean) << "}";
  o << "\n}\n";
  return o.str();
}

int run(const Args& args) {
  args.allow_only({"data", "method", "model", "scale", "json", "luma", "device", "save-dir"});
  if (!args.has("data")) throw std::runtime_error("--data DIR is required (see srgan eval --help)");
  const std::string dir = args.get("data", "");
  const int scale = args.get_int32("scale", 4);
  if (scale < 2 || scale > 8) throw std::runtime_error("--scale must be 2..8, got " + std::to_string(scale));
  const std::string luma = args.get("luma", "uint8");
  if (luma != "uint8" && luma != "double") throw std::runtime_error("--luma must be uint8 or double, got '" + luma + "'");
  const data::LumaMode mode = luma == "uint8" ? data::LumaMode::Uint8 : data::LumaMode::Double;
  std::string label;
  const Upscaler method = pick_upscaler(args, scale, &label);
  // --save-dir: keep each image's LR input and upscaled output (written after it is scored).
  const std::string save_dir = args.get("save-dir", "");
  Image last_lr, last_sr;
  const Upscaler upscale = save_dir.empty() ? method : Upscaler([&](const Image& lr) {
    last_lr = lr;
    last_sr = method(lr);
    return last_sr;
  });
  auto save_outputs = [&](const std::string& name) {
    if (save_dir.empty()) return;
    const std::string stem = name.substr(0, name.find_last_of('.'));
    data::write_png(save_dir + "/" + stem + "_lr.png", last_lr);
    data::write_png(save_dir + "/" + stem + "_x" + std::to_string(scale) + ".png", last_sr);
  };
  if (!save_dir.empty()) std::filesystem::create_directories(save_dir);
  data::evaluation_files(dir);  // fails early, before any output, on a missing or empty folder

  // Beside a model, the bicubic baseline of the same images (cheap), per image and mean.
  const bool beside = args.has("model");
  data::EvalSummary bic;
  if (beside) bic = data::evaluate_folder(dir, scale, data::bicubic_upscaler(scale), mode);
  std::printf("# srgan eval: %s x%d on %s (Y: BT.601, %s; border %d)\n", label.c_str(), scale, dir.c_str(),
              luma == "uint8" ? "rounded to uint8" : "double", scale);
  std::printf("%-28s %9s %9s %8s %9s %6s %6s %6s %6s %6s", "image", "size", "PSNR_Y", "SSIM_Y", "PSNR_RGB", "FP", "dR",
              "dG", "dB", "sharp");
  if (beside) std::printf(" | %11s %11s %8s %6s %9s", "bicubic_PSNR", "bicubic_SSIM", "gain_dB", "bic_FP", "bic_sharp");
  std::printf("\n");
  std::fflush(stdout);
  const bool tty = ::isatty(2);
  const auto t0 = std::chrono::steady_clock::now();
  const data::EvalSummary s = data::evaluate_folder(
      dir, scale, upscale, mode, [&](const data::ImageScore& sc, size_t i, size_t n) {
        save_outputs(sc.name);
        const std::string size = std::to_string(sc.width) + "x" + std::to_string(sc.height);
        std::printf("%-28s %9s %9.4f %8.4f %9.4f", sc.name.c_str(), size.c_str(), sc.q.psnr_y, sc.q.ssim_y,
                    sc.q.psnr_rgb);
        print_artifacts(sc.q.artifacts);
        if (beside) {
          if (i >= bic.images.size() || bic.images[i].name != sc.name)
            throw std::runtime_error("the files of " + dir + " changed during the evaluation (" + sc.name + ")");
          const data::Quality& b = bic.images[i].q;
          std::printf(" | %11.4f %11.4f %+8.4f %6.3f %9.3f", b.psnr_y, b.ssim_y, sc.q.psnr_y - b.psnr_y,
                      b.artifacts.fixed_pattern, b.artifacts.sharpness);
        }
        std::printf("\n");
        std::fflush(stdout);
        if (tty) {
          const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::fprintf(stderr, "\r[%zu/%zu] %.2f s/image, ETA %.0f s   ", i + 1, n, dt / double(i + 1),
                       dt / double(i + 1) * double(n - i - 1));
          if (i + 1 == n) std::fprintf(stderr, "\n");
        }
      });
  const std::string mean_label = "mean (" + std::to_string(s.images.size()) + " images)";
  std::printf("%-28s %9s %9.4f %8.4f %9.4f", mean_label.c_str(), "", s.mean.psnr_y, s.mean.ssim_y, s.mean.psnr_rgb);
  print_artifacts(s.mean.artifacts);
  if (beside)
    std::printf(" | %11.4f %11.4f %+8.4f %6.3f %9.3f", bic.mean.psnr_y, bic.mean.ssim_y,
                s.mean.psnr_y - bic.mean.psnr_y, bic.mean.artifacts.fixed_pattern, bic.mean.artifacts.sharpness);
  std::printf("\n");
  if (args.has("json")) {
    const std::string path = args.get("json", "");
    data::write_file_atomic(path, to_json(s, label, luma, beside ? &bic : nullptr));
    std::fprintf(stderr, "eval: wrote %s\n", path.c_str());
  }
  return 0;
}

}  // namespace

SRGAN_COMMAND(Command{"eval", "PSNR/SSIM, fixed pattern, colour shift, sharpness of bicubic or a model on HR images",
                      kUsage, &run, {}});

}  // namespace srgan::cli
