// The pretrain and GAN steps as plans (see train_step.h).
#include "tools/train/train_step.h"

#include <memory>

namespace srgan::app {

StepPlan pretrain_plan(SRResNet& g, Adam& g_opt, const Tensor& lr, const Tensor& hr, const LossWeights& w) {
  StepPlan p;
  p.segments.push_back([&g, &g_opt, lr, hr, w](LossTerms& out) {
    g_opt.zero_grad();
    Tensor sr = g(lr);
    GeneratorLoss l = content_loss(sr, hr, nullptr, w);
    l.total.backward();
    out.push_back({"g_total", l.total.detach()});
    out.push_back({"pixel_mse", l.pixel_mse.detach()});
  });
  p.updates.push_back(&g_opt);
  return p;
}

StepPlan gan_plan(SRResNet& g, Discriminator& d, VGG19Features* vgg, Adam& g_opt, Adam& d_opt, const Tensor& lr,
                  const Tensor& hr, const LossWeights& w) {
  // G's output (with its graph) is made in the first segment and used by the second. It is kept
  // until the next step's first segment, so the second segment can be run again eagerly if its
  // CUDA-graph capture fails (tools/train/step_runner.cpp).
  auto sr = std::make_shared<Tensor>();
  StepPlan p;
  // 1. Discriminator: real vs generated (sr is detached inside: no gradient reaches G).
  p.segments.push_back([&g, &d, &d_opt, lr, hr, sr](LossTerms& out) {
    *sr = Tensor();  // the previous step's G graph goes before the new forward, not after it
    *sr = g(lr);
    d_opt.zero_grad();
    DiscriminatorLoss dl = discriminator_loss(d, hr, *sr);
    dl.total.backward();
    out.push_back({"d_total", dl.total.detach()});
    out.push_back({"d_real", dl.real.detach()});
    out.push_back({"d_fake", dl.fake.detach()});
    out.push_back({"d_hr", dl.d_hr_prob.detach()});
    out.push_back({"d_sr", dl.d_sr_prob.detach()});
  });
  p.updates.push_back(&d_opt);
  // 2. Generator: content + adversarial through the just-updated D. D's parameter gradients
  //    from this backward are discarded by the zero_grad at the top of the next D update.
  p.segments.push_back([&d, vgg, &g_opt, hr, w, sr](LossTerms& out) {
    g_opt.zero_grad();
    Tensor d_sr = d(*sr);
    GeneratorLoss gl = generator_loss(*sr, hr, vgg, d_sr, w);
    gl.total.backward();
    out.push_back({"g_total", gl.total.detach()});
    out.push_back({"content", gl.content.detach()});
    out.push_back({"pixel_mse", gl.pixel_mse.detach()});
    out.push_back({"adversarial", gl.adversarial.detach()});
    if (gl.vgg.defined()) out.push_back({"vgg", gl.vgg.detach()});
  });
  p.updates.push_back(&g_opt);
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

LossTerms pretrain_step(SRResNet& g, Adam& g_opt, const Tensor& lr, const Tensor& hr, const LossWeights& w) {
  return run_eager(pretrain_plan(g, g_opt, lr, hr, w));
}

LossTerms gan_step(SRResNet& g, Discriminator& d, VGG19Features* vgg, Adam& g_opt, Adam& d_opt, const Tensor& lr,
                   const Tensor& hr, const LossWeights& w) {
  return run_eager(gan_plan(g, d, vgg, g_opt, d_opt, lr, hr, w));
}

}  // namespace srgan::app
