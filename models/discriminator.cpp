// SRGAN discriminator: construction with srgan_torch.py's names (f.*, h.*), and the forward pass.
#include "models/discriminator.h"

#include "core/check.h"

namespace srgan {

Discriminator::Discriminator(const DiscriminatorConfig& cfg, Rng& rng) : cfg_(cfg) {
  if (cfg.crop < 16 || cfg.crop % 16 != 0)
    throw Error("Discriminator: crop must be a positive multiple of 16 (four stride-2 convolutions), got " +
                std::to_string(cfg.crop));
  if (cfg.width < 1 || cfg.dense < 1)
    throw Error("Discriminator: width and dense must be >= 1, got width " + std::to_string(cfg.width) +
                " dense " + std::to_string(cfg.dense));
  const int w = cfg.width;
  f_ = register_module("f", std::make_shared<Sequential>());
  auto add_f = [this](std::shared_ptr<Module> m, bool tap) {
    f_layers_.push_back(f_->add(std::move(m)));
    f_tap_.push_back(tap);
  };
  add_f(std::make_shared<Conv2d>(3, w, 3, 1, 1, rng), false);
  add_f(std::make_shared<LeakyReLU>(cfg.slope), true);
  const int mult[7] = {1, 2, 2, 4, 4, 8, 8};
  const int stride[7] = {2, 1, 2, 1, 2, 1, 2};
  int cin = w;
  for (int i = 0; i < 7; ++i) {
    const int cout = mult[i] * w;
    add_f(std::make_shared<Conv2d>(cin, cout, 3, stride[i], 1, rng), false);
    add_f(std::make_shared<BatchNorm2d>(cout), false);
    add_f(std::make_shared<LeakyReLU>(cfg.slope), true);
    cin = cout;
  }
  h_ = register_module("h", std::make_shared<Sequential>());
  h_->add(std::make_shared<Flatten>());
  h_->add(std::make_shared<Linear>(int(flat_features()), cfg.dense, rng));
  h_->add(std::make_shared<LeakyReLU>(cfg.slope));
  h_->add(std::make_shared<Linear>(cfg.dense, 1, rng));
}

int64_t Discriminator::flat_features() const {
  const int64_t s = cfg_.crop / 16;
  return int64_t(8) * cfg_.width * s * s;
}

Tensor Discriminator::forward(const Tensor& x) { return forward_features(x, nullptr); }

Tensor Discriminator::forward_features(const Tensor& x, std::vector<Tensor>* features) {
  if (x.ndim() != 4 || x.dim(1) != cfg_.crop || x.dim(2) != cfg_.crop || x.dim(3) != 3)
    fail("Discriminator", "input must be (N, " + std::to_string(cfg_.crop) + ", " + std::to_string(cfg_.crop) +
                              ", 3) for crop " + std::to_string(cfg_.crop) + ", got shape " + shape_str(x.shape()));
  Tensor h = x;  // f's layers one by one (what (*f_)(x) does), keeping the tapped activations
  for (size_t i = 0; i < f_layers_.size(); ++i) {
    h = (*f_layers_[i])(h);
    if (features && f_tap_[i]) features->push_back(h);
  }
  return (*h_)(h);  // (N, crop/16, crop/16, 8w) -> (N, 1)
}

}  // namespace srgan
