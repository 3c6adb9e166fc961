// SRGAN losses: pixel MSE, rescaled VGG feature MSE, adversarial BCE terms for G and D.
#include "models/losses.h"

#include "core/autograd.h"
#include "core/check.h"
#include "core/ops.h"

namespace srgan {

Tensor pixel_mse_loss(const Tensor& sr, const Tensor& hr) { return mse_loss(sr, hr); }

Tensor vgg_feature_loss(VGG19Features& vgg, const Tensor& sr, const Tensor& hr, double feature_scale) {
  check_same_shape("vgg_feature_loss", sr, hr, "SR", "HR");
  Tensor target;  // (N, H/s, W/s, C) a constant
  {
    NoGradGuard ng;
    target = vgg(hr.detach());
  }
  Tensor feat = vgg(sr);  // (N, H/s, W/s, C), attached to sr's graph
  // (s*a - s*b)^2 = s^2 (a - b)^2: the rescaling of the features, applied to the loss.
  return scale(mse_loss(feat, target), feature_scale * feature_scale);
}

Tensor bce_logits_vs(const Tensor& logits, bool target_real) {
  Tensor labels = Tensor::full(logits.shape(), target_real ? 1.0 : 0.0, logits.dtype(), logits.device());
  return bce_with_logits(logits, labels);
}

Tensor mean_probability(const Tensor& logits) {
  NoGradGuard ng;
  return mean(sigmoid(logits.detach()));
}

GeneratorLoss content_loss(const Tensor& sr, const Tensor& hr, VGG19Features* vgg, const LossWeights& w) {
  GeneratorLoss out;
  out.uses_vgg = vgg != nullptr;
  if (!vgg) {
    out.pixel_mse = pixel_mse_loss(sr, hr);
    out.content = w.mse == 1.0 ? out.pixel_mse : scale(out.pixel_mse, w.mse);
  } else {
    out.vgg = vgg_feature_loss(*vgg, sr, hr, w.vgg_feature_scale);
    out.content = w.vgg == 1.0 ? out.vgg : scale(out.vgg, w.vgg);
    if (w.mse_with_vgg != 0.0) {
      out.pixel_mse = pixel_mse_loss(sr, hr);
      out.content = add(out.content, scale(out.pixel_mse, w.mse_with_vgg));
    } else {
      NoGradGuard ng;  // for the log only
      out.pixel_mse = pixel_mse_loss(sr.detach(), hr.detach());
    }
  }
  out.total = out.content;
  return out;
}

GeneratorLoss generator_loss(const Tensor& sr, const Tensor& hr, VGG19Features* vgg, const Tensor& d_sr_logits,
                             const LossWeights& w) {
  GeneratorLoss out = content_loss(sr, hr, vgg, w);
  if (d_sr_logits.defined()) {
    out.adversarial = bce_logits_vs(d_sr_logits, true);
    out.d_sr_prob = mean_probability(d_sr_logits);
    out.total = add(out.content, scale(out.adversarial, w.adversarial));
  }
  return out;
}

DiscriminatorLoss discriminator_loss_from_logits(const Tensor& real_logits, const Tensor& fake_logits) {
  DiscriminatorLoss out;
  out.hr_logits = real_logits;
  out.sr_logits = fake_logits;
  out.real = bce_logits_vs(real_logits, true);
  out.fake = bce_logits_vs(fake_logits, false);
  out.total = add(out.real, out.fake);
  out.d_hr_prob = mean_probability(real_logits);
  out.d_sr_prob = mean_probability(fake_logits);
  return out;
}

DiscriminatorLoss discriminator_loss(Module& d, const Tensor& hr, const Tensor& sr) {
  Tensor real = d(hr);
  Tensor fake = d(sr.detach());  // no gradient reaches the generator
  return discriminator_loss_from_logits(real, fake);
}

}  // namespace srgan
