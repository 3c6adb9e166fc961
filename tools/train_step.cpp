// The pretrain and GAN steps (see train_step.h).
#include "tools/train_step.h"

namespace srgan::app {

LossTerms pretrain_step(SRResNet& g, Adam& g_opt, const Tensor& lr, const Tensor& hr, const LossWeights& w) {
  g_opt.zero_grad();
  Tensor sr = g(lr);
  GeneratorLoss l = content_loss(sr, hr, nullptr, w);
  l.total.backward();
  g_opt.step();
  return {{"g_total", l.total.detach()}, {"pixel_mse", l.pixel_mse.detach()}};
}

LossTerms gan_step(SRResNet& g, Discriminator& d, VGG19Features* vgg, Adam& g_opt, Adam& d_opt, const Tensor& lr,
                   const Tensor& hr, const LossWeights& w) {
  Tensor sr = g(lr);
  // 1. Discriminator: real vs generated (sr is detached inside: no gradient reaches G).
  d_opt.zero_grad();
  DiscriminatorLoss dl = discriminator_loss(d, hr, sr);
  dl.total.backward();
  d_opt.step();
  // 2. Generator: content + adversarial through the just-updated D. D's parameter gradients
  //    from this backward are discarded by the zero_grad at the top of the next D update.
  g_opt.zero_grad();
  Tensor d_sr = d(sr);
  GeneratorLoss gl = generator_loss(sr, hr, vgg, d_sr, w);
  gl.total.backward();
  g_opt.step();
  LossTerms t = {{"g_total", gl.total.detach()},       {"content", gl.content.detach()},
                 {"pixel_mse", gl.pixel_mse.detach()}, {"adversarial", gl.adversarial.detach()},
                 {"d_total", dl.total.detach()},       {"d_real", dl.real.detach()},
                 {"d_fake", dl.fake.detach()},         {"d_hr", dl.d_hr_prob.detach()},
                 {"d_sr", dl.d_sr_prob.detach()}};
  if (gl.vgg.defined()) t.push_back({"vgg", gl.vgg.detach()});
  return t;
}

}  // namespace srgan::app
