// WeightAverage (see ema.h).
#include "tools/train/ema.h"

#include "core/autograd.h"
#include "core/check.h"
#include "core/ops.h"
#include "core/random.h"

namespace srgan::app {
namespace {
// Copies every named tensor of `from` into the tensor of the same name of `to`.
void copy_state(const std::vector<std::pair<std::string, Tensor>>& from, const std::vector<std::pair<std::string, Tensor>>& to) {
  if (from.size() != to.size()) throw Error("weight average: the models' state does not match");
  for (size_t i = 0; i < from.size(); ++i) {
    if (from[i].first != to[i].first) throw Error("weight average: " + from[i].first + " against " + to[i].first);
    Tensor dst = to[i].second;
    dst.copy_from(from[i].second);
  }
}
}  // namespace

WeightAverage::WeightAverage(const SRResNet& g, Device device) {
  Rng unused(0);
  model_ = std::make_unique<SRResNet>(g.config(), unused);
  model_->to(device);
  copy_state(g.named_parameters(), model_->named_parameters());
  copy_state(g.named_buffers(), model_->named_buffers());
  model_->eval();
  arena_.adopt(model_->parameters(), device);
  for (Tensor& p : model_->parameters()) p.set_requires_grad(false);  // never trained: no gradients
}

void WeightAverage::update(const ParamArena& live, double decay) {
  NoGradGuard ng;
  Tensor avg = arena_.values();
  if (avg.numel() != live.values().numel()) throw Error("weight average: the arenas differ in size");
  scale_(avg, decay);
  axpy_(avg, 1.0 - decay, live.values());
}

SRResNet& WeightAverage::model(const SRResNet& g) {
  copy_state(g.named_buffers(), model_->named_buffers());
  return *model_;
}

}  // namespace srgan::app
