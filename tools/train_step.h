// One optimisation step of each training phase, shared by the training loop and the parity
// tests (tests/test_train_parity.cpp checks both against PyTorch):
//   pretrain_step: G forward, content loss (pixel MSE), backward, Adam on G.
//   gan_step:      G forward; D update on BCE(D(HR), 1) + BCE(D(G(LR)).detach(), 0);
//                  G update on content + w_adv * BCE(D(G(LR)), 1) through the updated D.
// The returned terms are detached scalars still on the device (read back by the caller).
#pragma once
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

LossTerms pretrain_step(SRResNet& g, Adam& g_opt, const Tensor& lr, const Tensor& hr, const LossWeights& w);

// vgg may be null (content = pixel MSE, SRGAN-MSE).
LossTerms gan_step(SRResNet& g, Discriminator& d, VGG19Features* vgg, Adam& g_opt, Adam& d_opt, const Tensor& lr,
                   const Tensor& hr, const LossWeights& w);

}  // namespace srgan::app
