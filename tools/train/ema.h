// An exponential moving average of the generator's weights (as BasicSR and Real-ESRGAN keep one):
// after every optimizer step, ema = decay * ema + (1 - decay) * weights. The average is a model of
// its own (an SRResNet whose parameters live in one arena), used for validation, sample grids and
// best.safetensors: it smooths the step-to-step jitter that a GAN's adversarial gradients put into
// the weights (noise that shows as fixed patterns and colour wobble in the images). Its batch-norm
// running statistics are the live generator's, copied when it is used.
#pragma once
#include <memory>

#include "core/param_arena.h"
#include "models/srresnet.h"

namespace srgan::app {

class WeightAverage {
 public:
  // Starts equal to `g` (weights and buffers), on `device`.
  WeightAverage(const SRResNet& g, Device device);
  // ema = decay * ema + (1 - decay) * the live weights (`live`: g's parameter arena).
  void update(const ParamArena& live, double decay);
  // The averaged model, its running statistics first copied from the live generator `g`.
  SRResNet& model(const SRResNet& g);
  SRResNet& model_as_is() { return *model_; }  // for checkpoints (saved and loaded as they are)

 private:
  std::unique_ptr<SRResNet> model_;
  ParamArena arena_;
};

}  // namespace srgan::app
