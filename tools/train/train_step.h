// One optimisation step of each training phase, shared by the training loop, `srgan bench steps`
// and the parity tests (tests/test_train_parity.cpp checks both against PyTorch):
//   pretrain: G forward, content loss (pixel MSE), backward, Adam on G.
//   gan:      D update on BCE(D(HR), 1) + BCE(D(G(LR)).detach(), 0), then
//             G update on content + w_adv * BCE(D(G(LR)), 1) through the updated D.
// pretrain_step() and gan_step() are the steps as straight-line code. Each is made of segments,
// the device work between two optimizer updates (zero_grad, forward, loss, backward), which are
// functions of their own so a StepPlan can list them: the plan is what tools/train/step_runner.h
// captures as CUDA graphs and replays, with Adam (whose step count and learning rate change from
// step to step) run between the replays. Run in order, a plan is the plain step (run_eager).
// Tensor names: low_res (N, h, w, 3) is the low-resolution batch, high_res (N, 4h, 4w, 3) the
// original; the returned terms are detached scalars still on the device (read back by the caller).
//
// Gradient accumulation and data parallelism (Accumulation): a segment runs `micro` micro-batches,
// rows [j*b, (j+1)*b) of the inputs with b = N / micro, each adding its gradients (batch norm
// sees one micro-batch at a time); then the gradient sum becomes the mean over all micro-batches
// of all ranks (`reduce`: an all-reduce and a scale) before the optimizer steps. The loss terms
// are the means over the micro-batches. micro = 1 without reduce is the plain step.
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

struct Accumulation {
  int micro = 1;
  // Turns the summed gradients (a model's whole gradient arena) into the mean over micro-batches
  // and ranks, in place. Empty: scaled by 1 / micro here.
  std::function<void(const Tensor& grads)> reduce;
};

// What a GAN step works on. vgg may be null (content = pixel MSE: SRGAN-MSE).
struct GanParts {
  SRResNet& g;
  Discriminator& d;
  VGG19Features* vgg;
  Adam& g_opt;
  Adam& d_opt;
  LossWeights weights;
  Accumulation acc;
};

// ---- the segments ----
// G's pixel loss and its gradients (pretraining).
void generator_pixel_segment(SRResNet& g, Adam& g_opt, const Tensor& low_res, const Tensor& high_res,
                             const LossWeights& w, const Accumulation& acc, LossTerms& out);
// D's loss on real and generated images and D's gradients; returns G(low_res) of each
// micro-batch, which keep their graphs for the generator segment. No gradient reaches G here
// (D sees sr detached).
std::vector<Tensor> discriminator_segment(const GanParts& m, const Tensor& low_res, const Tensor& high_res,
                                          LossTerms& out);
// G's content + adversarial loss through D, and G's gradients. D's parameter gradients from this
// backward are discarded by the zero_grad of the next discriminator segment.
void generator_segment(const GanParts& m, const std::vector<Tensor>& sr, const Tensor& high_res, LossTerms& out);

// ---- the steps ----
LossTerms pretrain_step(SRResNet& g, Adam& g_opt, const Tensor& low_res, const Tensor& high_res, const LossWeights& w,
                        const Accumulation& acc = {});
LossTerms gan_step(const GanParts& m, const Tensor& low_res, const Tensor& high_res);

// ---- the same steps as plans, for CUDA graphs ----
struct StepPlan {
  // segments[i] appends the loss terms it computes; updates[i] (may be null) runs after it.
  std::vector<std::function<void(LossTerms&)>> segments;
  std::vector<Adam*> updates;
};
// low_res and high_res are read at every run of the plan: to feed a new batch, copy it into them.
StepPlan pretrain_plan(SRResNet& g, Adam& g_opt, const Tensor& low_res, const Tensor& high_res, const LossWeights& w,
                       const Accumulation& acc = {});
StepPlan gan_plan(const GanParts& m, const Tensor& low_res, const Tensor& high_res);
LossTerms run_eager(const StepPlan& plan);

}  // namespace srgan::app
