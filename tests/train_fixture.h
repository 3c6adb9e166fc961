// Fixtures of the training-loop tests (CPU and CUDA): a folder of generated learnable images
// and TrainOptions for a tiny model that trains in seconds. Folder names carry the process id:
// ctest runs a test binary and its emulated twin (or both block orders) at the same time.
#pragma once
#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include <unistd.h>

#include "data/image_io.h"
#include "tools/train/trainer.h"

namespace srgan::test {

// A folder of `n` smooth random 64x64 RGB images (sums of a few sinusoids): learnable content.
inline std::string make_image_folder(const std::string& name, int n) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("srgan_test_train_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::mt19937 gen(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    data::Image img(64, 64, 3);
    double f[3][4];
    for (auto& row : f)
      for (auto& v : row) v = u(gen);
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x)
        for (int c = 0; c < 3; ++c) {
          double v = 0.5 + 0.25 * std::sin(0.3 * f[c][0] * x + 6 * f[c][1]) + 0.2 * std::cos(0.25 * f[c][2] * y + 6 * f[c][3]);
          img.at(y, x, c) = uint8_t(std::lround(255 * std::fmin(1.0, std::fmax(0.0, v))));
        }
    data::write_png((dir / ("img" + std::to_string(i) + ".png")).string(), img);
  }
  return dir.string();
}

inline app::TrainOptions tiny(const std::string& data, const std::string& out) {
  app::TrainOptions o;
  o.data = data;
  o.out = out;
  o.device = "cpu";
  o.blocks = 1;
  o.width = 8;
  o.batch = 2;
  o.crop = 32;
  o.learning_rate = 1e-3;
  o.log_every = 2;
  o.val_every = 0;
  o.workers = 1;
  o.threads = 1;
  o.quiet = true;
  std::filesystem::remove_all(out);
  return o;
}

inline std::string out_dir(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("srgan_test_run_" + name + "_" + std::to_string(::getpid()))).string();
}

}  // namespace srgan::test
