// One optimisation step of each training phase, shared by the training loop, `srgan bench steps`
// and the parity tests (tests/test_train_parity.cpp checks both against PyTorch):
//   pretrain: G forward, content loss (pixel MSE), backward, Adam on G.
//   gan:      G forward; D update on BCE(D(HR), 1) + BCE(D(G(LR)).detach(), 0);
//             G update on content + w_adv * BCE(D(G(LR)), 1) through the updated D.
// A step is written as a StepPlan: segments of device work (zero_grad, forward, loss, backward)
// separated by Adam updates. Run in order, that is the plain step (run_eager). The split exists
// for CUDA graphs (tools/train/step_runner.h): the segments are captured and replayed, while Adam, whose
// step count and learning rate change from step to step, runs between the replays.
// The returned terms are detached scalars still on the device (read back by the caller).
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/adam.h"
#include "models/discriminator.h"
#include "models/losses.h"
#include "models/srresnet.h"
#include "models/vgg19.h"

namespace srgan::app {

using LossTerms = std::vector<std::pair<std::string, Tensor>>;

struct StepPlan {
  // segments[i] appends the loss terms it computes; updates[i] (may be null) runs after it.
  std::vector<std::function<void(LossTerms&)>> segments;
  std::vector<Adam*> updates;
};

// lr (N, h, w, 3) and hr (N, 4h, 4w, 3) are read at every run of the plan: to feed a new batch,
// copy it into these tensors.
StepPlan pretrain_plan(SRResNet& g, Adam& g_opt, const Tensor& lr, const Tensor& hr, const LossWeights& w);
// vgg may be null (content = pixel MSE, SRGAN-MSE).
StepPlan gan_plan(SRResNet& g, Discriminator& d, VGG19Features* vgg, Adam& g_opt, Adam& d_opt, const Tensor& lr,
                  const Tensor& hr, const LossWeights& w);

LossTerms run_eager(const StepPlan& plan);

// One plain step of each phase (run_eager of the plan).
LossTerms pretrain_step(SRResNet& g, Adam& g_opt, const Tensor& lr, const Tensor& hr, const LossWeights& w);
LossTerms gan_step(SRResNet& g, Discriminator& d, VGG19Features* vgg, Adam& g_opt, Adam& d_opt, const Tensor& lr,
                   const Tensor& hr, const LossWeights& w);

}  // namespace srgan::app
