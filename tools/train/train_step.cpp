// The pretrain and GAN steps, their segments, and the same segments as plans (see train_step.h).
#include "tools/train/train_step.h"

#include <memory>

namespace srgan::app {

// ---- the segments ----

void generator_pixel_segment(SRResNet& g, Adam& g_opt, const Tensor& low_res, const Tensor& high_res,
                             const LossWeights& w, LossTerms& out) {
  g_opt.zero_grad();
  Tensor sr = g(low_res);
  GeneratorLoss l = content_loss(sr, high_res, nullptr, w);
  l.total.backward();
  out.push_back({"g_total", l.total.detach()});
  out.push_back({"pixel_mse", l.pixel_mse.detach()});
  if (l.gradient_l1.defined()) out.push_back({"gradient_l1", l.gradient_l1.detach()});
}

Tensor discriminator_segment(const GanParts& m, const Tensor& low_res, const Tensor& high_res, LossTerms& out) {
  Tensor sr = m.g(low_res);
  m.d_opt.zero_grad();
  DiscriminatorLoss dl = discriminator_loss(m.d, high_res, sr);  // sr is detached inside
  dl.total.backward();
  out.push_back({"d_total", dl.total.detach()});
  out.push_back({"d_real", dl.real.detach()});
  out.push_back({"d_fake", dl.fake.detach()});
  out.push_back({"d_hr", dl.d_hr_prob.detach()});
  out.push_back({"d_sr", dl.d_sr_prob.detach()});
  return sr;
}

void generator_segment(const GanParts& m, const Tensor& sr, const Tensor& high_res, LossTerms& out) {
  m.g_opt.zero_grad();
  GeneratorLoss gl = generator_loss(sr, high_res, m.vgg, m.d, m.weights);  // D(sr); D(hr) for feature matching
  gl.total.backward();
  out.push_back({"g_total", gl.total.detach()});
  out.push_back({"content", gl.content.detach()});
  out.push_back({"pixel_mse", gl.pixel_mse.detach()});
  out.push_back({"adversarial", gl.adversarial.detach()});
  if (gl.vgg.defined()) out.push_back({"vgg", gl.vgg.detach()});
  if (gl.gradient_l1.defined()) out.push_back({"gradient_l1", gl.gradient_l1.detach()});
  if (gl.feature_match.defined()) out.push_back({"feature_match", gl.feature_match.detach()});
}

// ---- the steps ----

LossTerms pretrain_step(SRResNet& g, Adam& g_opt, const Tensor& low_res, const Tensor& high_res, const LossWeights& w) {
  LossTerms terms;
  generator_pixel_segment(g, g_opt, low_res, high_res, w, terms);
  g_opt.step();
  return terms;
}

LossTerms gan_step(const GanParts& m, const Tensor& low_res, const Tensor& high_res) {
  LossTerms terms;
  // 1. Discriminator: learn to tell HR (label 1) from G(LR) (label 0); G is not updated.
  Tensor sr = discriminator_segment(m, low_res, high_res, terms);
  m.d_opt.step();
  // 2. Generator: content loss + adversarial loss through the just-updated D; D is not updated.
  generator_segment(m, sr, high_res, terms);
  m.g_opt.step();
  return terms;
}

// ---- plans ----

StepPlan pretrain_plan(SRResNet& g, Adam& g_opt, const Tensor& low_res, const Tensor& high_res, const LossWeights& w) {
  StepPlan p;
  p.segments.push_back([&g, &g_opt, low_res, high_res, w](LossTerms& out) {
    generator_pixel_segment(g, g_opt, low_res, high_res, w, out);
  });
  p.updates.push_back(&g_opt);
  return p;
}

StepPlan gan_plan(const GanParts& m, const Tensor& low_res, const Tensor& high_res) {
  // G's output (with its graph) is made in the first segment and used by the second. It is kept
  // until the next step's first segment, so the second segment can be run again eagerly if its
  // CUDA-graph capture fails (tools/train/step_runner.cpp).
  auto sr = std::make_shared<Tensor>();
  StepPlan p;
  p.segments.push_back([m, low_res, high_res, sr](LossTerms& out) {
    *sr = Tensor();  // the previous step's G graph goes before the new forward, not after it
    *sr = discriminator_segment(m, low_res, high_res, out);
  });
  p.updates.push_back(&m.d_opt);
  p.segments.push_back([m, high_res, sr](LossTerms& out) { generator_segment(m, *sr, high_res, out); });
  p.updates.push_back(&m.g_opt);
  return p;
}

LossTerms run_eager(const StepPlan& plan) {
  LossTerms terms;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    plan.segments[i](terms);
    if (plan.updates[i]) plan.updates[i]->step();
  }
  return terms;
}

}  // namespace srgan::app
