// The bundled generator (models/pretrained/srresnet_x4.safetensors) loads by its metadata and
// beats bicubic on the bundled sample photograph (docs/sample/ladybird.png, not a training
// image) under the papers' protocol: MATLAB-bicubic LR, PSNR on Y with a 4-pixel border.
#include <filesystem>

#include "data/evaluate.h"
#include "tools/model_file.h"
#include "tools/tiled_upscaler.h"
#include "tests/test_common.h"

using namespace srgan;

TEST_CASE("the bundled model loads and beats bicubic on the bundled sample photo", "[model][bundled]") {
  const std::string model = app::default_model_path();
  REQUIRE(std::filesystem::exists(model));
  std::shared_ptr<SRResNet> g = app::load_generator(model, Device::cpu);
  const std::string sample = std::string(SRGAN_SOURCE_DIR_FOR_TESTS) + "/docs/sample";
  data::EvalSummary bic = data::evaluate_folder(sample, 4, data::bicubic_upscaler(4));
  data::EvalSummary ours = data::evaluate_folder(sample, 4, [&](const data::Image& lr) {
    return app::upscale_image(*g, lr, app::TileOptions{}, Device::cpu, model);
  });
  REQUIRE(ours.images.size() == 1);
  INFO("model " << ours.mean.psnr_y << " dB, bicubic " << bic.mean.psnr_y << " dB");
  REQUIRE(ours.mean.psnr_y > bic.mean.psnr_y);
  REQUIRE(ours.mean.ssim_y > bic.mean.ssim_y);
}
