// SRGAN losses (Ledig et al. 2017), each returning scalar Tensors of shape {} so the training loop
// can keep them on the device and read them back once per log interval.
//   pixel MSE        mean((SR - HR)^2) over all elements; images in [0, 1]
//   VGG feature MSE  mean((s*phi(SR) - s*phi(HR))^2) with s = vgg_feature_scale = 1/12.75, the
//                    paper's rescaling ("equivalent to multiplying Eq. 5 with ~0.006"). Our choice:
//                    the factor is applied to the loss as s^2 = 1/162.5625 (mathematically the same
//                    as dividing both feature maps by 12.75 before the MSE, one pass cheaper).
//                    phi(HR) is computed without a graph (a constant target).
//   adversarial      BCE-with-logits(D(SR), 1) = mean(-log sigmoid(D(SR))), the paper's -log D(G(z)),
//                    weighted 1e-3 in the generator's total
//   discriminator    BCE(D(HR), 1) + BCE(D(SR.detach()), 0): D sees HR and SR in two separate
//                    forwards (so batch norm uses per-call batch statistics, as PyTorch code that
//                    calls D twice does), and no gradient reaches G.
// Content loss: the VGG term when a VGG is given, else the pixel MSE (the paper's SRGAN-MSE).
//
// Texture terms that need no pretrained weights, each off (weight 0) unless asked for:
//   gradient L1      mean |S(SR) - S(HR)| with S the per-channel Sobel derivatives (d/dx, d/dy,
//                    normalised by 1/8 so a ramp's slope comes out) at the 'valid' positions: a
//                    fixed high-pass that weighs edges and fine texture, which the pixel MSE
//                    averages away. Part of the content loss (pretraining can use it too).
//   feature matching pix2pixHD (Wang et al. 2018): the mean over D's eight tapped layers
//                    (models/discriminator.h) of mean |D_l(SR) - D_l(HR)|, D_l(HR) without a
//                    graph. It asks G for HR's statistics as D sees them, not just D's verdict.
//                    Cost: one more D forward (on HR, no graph, train mode like D(SR), so its
//                    batch norm also moves the running statistics once more) per G step, about
//                    1/3 of D's forward+backward, plus the L1 over the activations.
// A colour term, off unless asked for:
//   low-frequency L1 mean |B(SR) - B(HR)| with B the mean of each 4x4 block per channel (one LR
//                    pixel's footprint): it ties SR's local colour and brightness to HR's, and
//                    unlike the MSE its pull does not fade as the offset shrinks, so a small cast
//                    that the adversarial term keeps pushing towards is pulled back (docs/data.md).
//                    It cannot see a pattern that averages out over 4x4 blocks (the fixed
//                    pattern of the pixel shuffle), nor texture.
//   phase-mean L1    mean over images, the 16 phases (y mod 4, x mod 4) and channels of
//                    |mean of SR's phase - mean of HR's phase|: each image's fixed pattern and
//                    colour cast (docs/data.md's metrics, measured on the training crops). Adam
//                    moves every parameter by about the learning rate whatever the size of its
//                    gradient, so the biases that set those means (the sub-pixel convolutions',
//                    the last layer's), which the MSE barely holds near its optimum, random-walk
//                    under the adversarial gradient; an L1 term pulls them back with a constant
//                    force. The mean is over the whole crop: no texture is constrained.
// |x| is composed as relu(x) + relu(-x), so all these terms run on every device with existing ops.
#pragma once
#include <vector>

#include "layers/module.h"
#include "models/discriminator.h"
#include "models/vgg19.h"

namespace srgan {

struct LossWeights {
  double mse = 1.0;            // weight of the pixel MSE in the content loss when no VGG is given
  double vgg = 1.0;            // weight of the (rescaled) VGG feature MSE when a VGG is given
  double mse_with_vgg = 0.0;   // pixel MSE added beside the VGG term (0 = the paper)
  double adversarial = 1e-3;   // weight of the generator's adversarial term
  double vgg_feature_scale = 1.0 / 12.75;  // s: features are compared as s*phi (loss times s^2)
  double gradient_l1 = 0.0;    // weight of the Sobel gradient L1, added to the content loss
  double feature_match = 0.0;  // weight of D's feature matching in the generator's total (GAN step)
  double low_frequency_l1 = 0.0;  // weight of the 4x4 block-mean L1, added to the content loss
  double phase_mean_l1 = 0.0;  // weight of the phase-mean L1, added to the content loss
  double real_label = 1.0;     // D's target for HR; 0.9 = one-sided label smoothing (Salimans et al. 2016)
};

// Individual terms, all shape {} (undefined where a term does not apply). Unweighted terms are
// given for logging; `total` is what backward() runs on.
struct GeneratorLoss {
  Tensor total;        // weighted sum of the terms below
  Tensor content;      // weighted content part of total (vgg*VGG [+ mse_with_vgg*MSE], or mse*MSE;
                       // + the gradient, block-mean and phase-mean terms whose weights are > 0)
  Tensor pixel_mse;    // pixel MSE, always computed (detached when it is not part of total)
  Tensor vgg;          // rescaled VGG feature MSE; undefined without a VGG
  Tensor adversarial;  // BCE(D(SR), 1); undefined without discriminator logits
  Tensor gradient_l1;  // Sobel gradient L1; undefined when its weight is 0
  Tensor low_frequency_l1;  // 4x4 block-mean L1; undefined when its weight is 0
  Tensor phase_mean_l1;     // phase-mean L1; undefined when its weight is 0
  Tensor feature_match;  // D feature matching; undefined when its weight is 0 or there is no D
  Tensor d_sr_prob;    // mean sigmoid(D(SR)), detached; undefined without logits
  bool uses_vgg = false;
};

struct DiscriminatorLoss {
  Tensor total;      // real + fake
  Tensor real;       // BCE(D(HR), real_label)
  Tensor fake;       // BCE(D(SR.detach()), 0)
  Tensor hr_logits;  // (N, 1) D(HR)
  Tensor sr_logits;  // (N, 1) D(SR.detach())
  Tensor d_hr_prob;  // mean sigmoid(D(HR)), detached, shape {}
  Tensor d_sr_prob;  // mean sigmoid(D(SR)), detached, shape {}
};

// ---- the single terms ----
Tensor pixel_mse_loss(const Tensor& sr, const Tensor& hr);  // sr, hr (N, H, W, 3)
// mean((s*vgg(sr) - s*vgg(hr))^2); vgg(hr) runs without recording a graph.
Tensor vgg_feature_loss(VGG19Features& vgg, const Tensor& sr, const Tensor& hr, double feature_scale = 1.0 / 12.75);
// BCE-with-logits against all-ones (target_real) or all-zeros labels; logits (N, 1).
Tensor bce_logits_vs(const Tensor& logits, bool target_real);
// mean(sigmoid(logits)), without a graph: the "D(x)" figure of GAN logs.
Tensor mean_probability(const Tensor& logits);
// mean |a - b| over all elements (same shapes), as mean(relu(a - b) + relu(b - a)); the gradient
// at a == b is 0.
Tensor l1_loss(const Tensor& a, const Tensor& b);
// x (N, H, W, C) -> (N, H-2, W-2, 2C): channel 2c is d/dx of x's channel c, 2c+1 d/dy, both
// Sobel / 8 ('valid' 3x3 convolution with fixed weights; H, W >= 3).
Tensor sobel_gradients(const Tensor& x);
// l1_loss(sobel_gradients(sr), sobel_gradients(hr)); hr's side runs without a graph.
Tensor gradient_l1_loss(const Tensor& sr, const Tensor& hr);
// x (N, H, W, C) -> (N, H/4, W/4, C): the mean of each 4x4 block per channel (H, W >= 4; rows and
// columns past the last whole block are left out).
Tensor block_means4(const Tensor& x);
// l1_loss(block_means4(sr), block_means4(hr)); hr's side runs without a graph.
Tensor low_frequency_l1_loss(const Tensor& sr, const Tensor& hr);
// x (N, H, W, C) -> (N, 1, 1, 16C): channel 16c + 4a + b is the mean of x's channel c over the
// pixels with (y mod 4, x mod 4) = (a, b) (H, W multiples of 4).
Tensor phase_means4(const Tensor& x);
// l1_loss(phase_means4(sr), phase_means4(hr)); hr's side runs without a graph.
Tensor phase_mean_l1_loss(const Tensor& sr, const Tensor& hr);
// The mean over layers of l1_loss(sr_features[l], hr_features[l]); same count and shapes.
Tensor feature_matching_loss(const std::vector<Tensor>& sr_features, const std::vector<Tensor>& hr_features);

// ---- what the training loop calls ----
// Content loss only (pretraining, or the content half of the GAN step): VGG if `vgg` is non-null,
// else pixel MSE. total == content.
GeneratorLoss content_loss(const Tensor& sr, const Tensor& hr, VGG19Features* vgg, const LossWeights& w = {});
// Content loss plus w.adversarial * BCE(d_sr_logits, 1). d_sr_logits = D(SR) with SR attached to
// the generator's graph (D's parameters get gradients too; the loop zeroes them before D's step).
GeneratorLoss generator_loss(const Tensor& sr, const Tensor& hr, VGG19Features* vgg, const Tensor& d_sr_logits,
                             const LossWeights& w = {});
// The G step's loss with D itself: runs D on sr (one forward, tapping its activations when
// w.feature_match > 0, and then D on hr without a graph), and returns the above plus
// w.feature_match * feature matching. With w.feature_match == 0 it is generator_loss(sr, hr,
// vgg, d(sr), w).
GeneratorLoss generator_loss(const Tensor& sr, const Tensor& hr, VGG19Features* vgg, Discriminator& d,
                             const LossWeights& w = {});
// Runs D on hr and on sr.detach() (two forwards) and returns BCE(D(HR), real_label) + BCE(D(SR), 0);
// real_label < 1 is one-sided label smoothing (fakes keep the target 0).
DiscriminatorLoss discriminator_loss(Module& d, const Tensor& hr, const Tensor& sr, double real_label = 1.0);
// The same from logits already computed (real_logits = D(HR), fake_logits = D(SR.detach())).
DiscriminatorLoss discriminator_loss_from_logits(const Tensor& real_logits, const Tensor& fake_logits,
                                                 double real_label = 1.0);

}  // namespace srgan
