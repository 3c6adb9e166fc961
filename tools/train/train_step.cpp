// The pretrain and GAN steps, their segments, and the same segments as plans (see train_step.h).
#include "tools/train/train_step.h"

#include <functional>
#include <memory>

#include "core/autograd.h"
#include "core/check.h"
#include "core/ops.h"

namespace srgan::app {
namespace {

// Rows [j*b, (j+1)*b) of t, b = t.dim(0) / micro: micro-batch j (a view, no copy).
Tensor micro_batch(const Tensor& t, const Accumulation& acc, int j) {
  if (acc.micro == 1) return t;
  if (acc.micro < 1 || t.dim(0) % acc.micro != 0)
    throw Error("a batch of " + std::to_string(t.dim(0)) + " does not split into " + std::to_string(acc.micro) +
                " micro-batches");
  const int64_t b = t.dim(0) / acc.micro;
  return t.narrow0(j * b, b);
}

// Adds micro-batch j's terms into `out` (j = 0: appends them); the sums become means in
// finish_terms. Terms are detached scalars: no graph is recorded.
void add_terms(LossTerms& out, size_t first, const LossTerms& terms, int j) {
  NoGradGuard ng;
  for (size_t i = 0; i < terms.size(); ++i) {
    if (j == 0) out.push_back(terms[i]);
    else out[first + i].second = add(out[first + i].second, terms[i].second);
  }
}

void finish_terms(LossTerms& out, size_t first, const Accumulation& acc) {
  if (acc.micro == 1) return;
  NoGradGuard ng;
  for (size_t i = first; i < out.size(); ++i) out[i].second = scale(out[i].second, 1.0 / acc.micro);
}

// Micro-batch j's backward (`backward`) with its gradients summed alone, then added to the
// earlier micro-batches' sum: the sum an all-reduce over ranks forms, so N ranks and --accum N
// give the same weights (within a backward, a weight used twice adds its two parts first).
void backward_micro(const Adam& opt, int j, const std::function<void()>& backward) {
  Tensor grads = opt.arena().grads();
  Tensor earlier;
  if (j > 0) {
    earlier = grads.clone();
    fill_(grads, 0.0);
  }
  backward();
  if (j > 0) add_(grads, earlier);
}

// The summed gradients of an optimizer's model become the mean over micro-batches (and ranks).
void finish_gradients(const Adam& opt, const Accumulation& acc) {
  Tensor grads = opt.arena().grads();
  if (acc.reduce) acc.reduce(grads);
  else if (acc.micro > 1) scale_(grads, 1.0 / acc.micro);
}

}  // namespace

// ---- the segments ----

void generator_pixel_segment(SRResNet& g, Adam& g_opt, const Tensor& low_res, const Tensor& high_res,
                             const LossWeights& w, const Accumulation& acc, LossTerms& out) {
  g_opt.zero_grad();
  const size_t first = out.size();
  for (int j = 0; j < acc.micro; ++j) {
    Tensor sr = g(micro_batch(low_res, acc, j));
    GeneratorLoss l = content_loss(sr, micro_batch(high_res, acc, j), nullptr, w);
    backward_micro(g_opt, j, [&] { l.total.backward(); });
    LossTerms terms{{"g_total", l.total.detach()}, {"pixel_mse", l.pixel_mse.detach()}};
    if (l.gradient_l1.defined()) terms.push_back({"gradient_l1", l.gradient_l1.detach()});
    if (l.low_frequency_l1.defined()) terms.push_back({"low_frequency_l1", l.low_frequency_l1.detach()});
    if (l.phase_mean_l1.defined()) terms.push_back({"phase_mean_l1", l.phase_mean_l1.detach()});
    add_terms(out, first, terms, j);
  }
  finish_terms(out, first, acc);
  finish_gradients(g_opt, acc);
}

std::vector<Tensor> discriminator_segment(const GanParts& m, const Tensor& low_res, const Tensor& high_res,
                                          LossTerms& out) {
  m.d_opt.zero_grad();
  const size_t first = out.size();
  std::vector<Tensor> sr;
  for (int j = 0; j < m.acc.micro; ++j) {
    sr.push_back(m.g(micro_batch(low_res, m.acc, j)));
    DiscriminatorLoss dl =  // sr detached inside; real_label < 1: one-sided label smoothing
        discriminator_loss(m.d, micro_batch(high_res, m.acc, j), sr.back(), m.weights.real_label);
    backward_micro(m.d_opt, j, [&] { dl.total.backward(); });
    add_terms(out, first, {{"d_total", dl.total.detach()}, {"d_real", dl.real.detach()}, {"d_fake", dl.fake.detach()},
                           {"d_hr", dl.d_hr_prob.detach()}, {"d_sr", dl.d_sr_prob.detach()}}, j);
  }
  finish_terms(out, first, m.acc);
  finish_gradients(m.d_opt, m.acc);
  return sr;
}

void generator_segment(const GanParts& m, const std::vector<Tensor>& sr, const Tensor& high_res, LossTerms& out) {
  m.g_opt.zero_grad();
  const size_t first = out.size();
  for (int j = 0; j < m.acc.micro; ++j) {
    // D(sr), and D(hr) when feature matching is on
    GeneratorLoss gl = generator_loss(sr[size_t(j)], micro_batch(high_res, m.acc, j), m.vgg, m.d, m.weights);
    backward_micro(m.g_opt, j, [&] { gl.total.backward(); });
    LossTerms terms{{"g_total", gl.total.detach()}, {"content", gl.content.detach()},
                    {"pixel_mse", gl.pixel_mse.detach()}, {"adversarial", gl.adversarial.detach()}};
    if (gl.vgg.defined()) terms.push_back({"vgg", gl.vgg.detach()});
    if (gl.gradient_l1.defined()) terms.push_back({"gradient_l1", gl.gradient_l1.detach()});
    if (gl.low_frequency_l1.defined()) terms.push_back({"low_frequency_l1", gl.low_frequency_l1.detach()});
    if (gl.phase_mean_l1.defined()) terms.push_back({"phase_mean_l1", gl.phase_mean_l1.detach()});
    if (gl.feature_match.defined()) terms.push_back({"feature_match", gl.feature_match.detach()});
    add_terms(out, first, terms, j);
  }
  finish_terms(out, first, m.acc);
  finish_gradients(m.g_opt, m.acc);
}

// ---- the steps ----

LossTerms pretrain_step(SRResNet& g, Adam& g_opt, const Tensor& low_res, const Tensor& high_res, const LossWeights& w,
                        const Accumulation& acc) {
  LossTerms terms;
  generator_pixel_segment(g, g_opt, low_res, high_res, w, acc, terms);
  g_opt.step();
  return terms;
}

LossTerms gan_step(const GanParts& m, const Tensor& low_res, const Tensor& high_res) {
  LossTerms terms;
  // 1. Discriminator: learn to tell HR (label 1) from G(LR) (label 0); G is not updated.
  std::vector<Tensor> sr = discriminator_segment(m, low_res, high_res, terms);
  m.d_opt.step();
  // 2. Generator: content loss + adversarial loss through the just-updated D; D is not updated.
  generator_segment(m, sr, high_res, terms);
  m.g_opt.step();
  return terms;
}

// ---- plans ----

StepPlan pretrain_plan(SRResNet& g, Adam& g_opt, const Tensor& low_res, const Tensor& high_res, const LossWeights& w,
                       const Accumulation& acc) {
  StepPlan p;
  p.segments.push_back([&g, &g_opt, low_res, high_res, w, acc](LossTerms& out) {
    generator_pixel_segment(g, g_opt, low_res, high_res, w, acc, out);
  });
  p.updates.push_back(&g_opt);
  return p;
}

StepPlan gan_plan(const GanParts& m, const Tensor& low_res, const Tensor& high_res) {
  // G's outputs (with their graphs) are made in the first segment and used by the second. They
  // are kept until the next step's first segment, so the second segment can be run again eagerly
  // if its CUDA-graph capture fails (tools/train/step_runner.cpp).
  auto sr = std::make_shared<std::vector<Tensor>>();
  StepPlan p;
  p.segments.push_back([m, low_res, high_res, sr](LossTerms& out) {
    sr->clear();  // the previous step's G graphs go before the new forward, not after it
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
