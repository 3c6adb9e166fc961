// SRGAN losses: pixel MSE, rescaled VGG feature MSE, adversarial BCE terms for G and D, and the
// texture terms (Sobel gradient L1, D feature matching) and the colour and pattern terms (L1 of
// block means and of phase means),
// composed from core/ops.h.
#include "models/losses.h"

#include <map>
#include <mutex>
#include <tuple>

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

namespace {

enum class FixedFilter { sobel, box4, phase_means };

// The weights of a fixed filter for C channels, KRSC, as doubles:
//   sobel (2C, 3, 3, C): output 2c is d/dx of channel c, 2c+1 d/dy, Sobel / 8;
//   box4  (C, 4, 4, C):  output c is the mean of channel c over a 4x4 block (used with stride 4);
//   phase_means (16C, H, W, C): output 16c + 4a + b is the mean of channel c over the pixels with
//         (y mod 4, x mod 4) = (a, b) of a whole H x W image (H, W multiples of 4).
Tensor fixed_filter_weights(FixedFilter f, int C, int H, int W) {
  if (f == FixedFilter::phase_means) {
    std::vector<double> w(size_t(16 * C) * size_t(H) * size_t(W) * size_t(C), 0.0);  // (16C, H, W, C)
    const double inv = 16.0 / (double(H) * double(W));
    for (int c = 0; c < C; ++c)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
          w[((size_t(16 * c + 4 * (y % 4) + x % 4) * H + y) * W + x) * C + c] = inv;
    return Tensor::from_vector(w, {16 * C, H, W, C});
  }
  if (f == FixedFilter::box4) {
    std::vector<double> w(size_t(C) * 16 * size_t(C), 0.0);  // (C, 4, 4, C)
    for (int c = 0; c < C; ++c)
      for (int rq = 0; rq < 16; ++rq) w[(size_t(c) * 16 + size_t(rq)) * size_t(C) + size_t(c)] = 1.0 / 16.0;
    return Tensor::from_vector(w, {C, 4, 4, C});
  }
  std::vector<double> w(size_t(2 * C) * 9 * size_t(C), 0.0);  // (2C, 3, 3, C)
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < 3; ++r)
      for (int q = 0; q < 3; ++q) {
        // conv2d correlates, pad 0: output (y, x) is centred on input (y+1, x+1); tap (r, q)
        // reads input (y+r, x+q), so (q - 1) and (r - 1) are the offsets from the centre
        w[((size_t(2 * c) * 3 + r) * 3 + q) * C + c] = (q - 1) * (r == 1 ? 2 : 1) / 8.0;
        w[((size_t(2 * c + 1) * 3 + r) * 3 + q) * C + c] = (r - 1) * (q == 1 ? 2 : 1) / 8.0;
      }
  return Tensor::from_vector(w, {2 * C, 3, 3, C});
}

// fixed_filter_weights made once per (filter, C, H, W, dtype, device) and kept for the life of the
// process: the first use is in an eager step, and later ones (inside a CUDA-graph capture) must
// not copy from the host. Never destroyed, so no device memory is freed after the CUDA runtime
// has shut down.
const Tensor& fixed_filter(FixedFilter f, int C, DType dtype, Device device, int H = 0, int W = 0) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::tuple<FixedFilter, int, int, int, DType, Device>, Tensor>();
  std::lock_guard<std::mutex> lock(mutex);
  Tensor& t = (*cache)[{f, C, H, W, dtype, device}];
  if (!t.defined()) {
    Tensor host = fixed_filter_weights(f, C, H, W);
    t = (dtype == DType::f64 ? host : host.to(dtype)).to(device);
  }
  return t;
}

// l1_loss(f(sr), f(hr)) with f(hr) a constant target (no graph).
Tensor l1_of_filtered(const char* who, const Tensor& sr, const Tensor& hr, Tensor (*f)(const Tensor&)) {
  check_same_shape(who, sr, hr, "SR", "HR");
  Tensor target;
  {
    NoGradGuard ng;
    target = f(hr.detach());
  }
  return l1_loss(f(sr), target);
}

}  // namespace

Tensor block_means4(const Tensor& x) {
  if (x.ndim() != 4 || x.dim(1) < 4 || x.dim(2) < 4)
    fail("block_means4", "input must be (N, H, W, C) with H, W >= 4, got shape " + shape_str(x.shape()));
  return conv2d(x, fixed_filter(FixedFilter::box4, int(x.dim(3)), x.dtype(), x.device()), Tensor(), 4, 0);
}

Tensor phase_means4(const Tensor& x) {
  if (x.ndim() != 4 || x.dim(1) < 4 || x.dim(2) < 4 || x.dim(1) % 4 || x.dim(2) % 4)
    fail("phase_means4", "input must be (N, H, W, C) with H, W multiples of 4, got shape " + shape_str(x.shape()));
  const int H = int(x.dim(1)), W = int(x.dim(2));
  return conv2d(x, fixed_filter(FixedFilter::phase_means, int(x.dim(3)), x.dtype(), x.device(), H, W), Tensor(), H, 0);
}

Tensor phase_mean_l1_loss(const Tensor& sr, const Tensor& hr) {
  return l1_of_filtered("phase_mean_l1_loss", sr, hr, phase_means4);  // (N, 1, 1, 16C)
}

Tensor low_frequency_l1_loss(const Tensor& sr, const Tensor& hr) {
  return l1_of_filtered("low_frequency_l1_loss", sr, hr, block_means4);  // (N, H/4, W/4, C)
}

Tensor l1_loss(const Tensor& a, const Tensor& b) {
  check_same_shape("l1_loss", a, b, "a", "b");
  Tensor d = add(a, scale(b, -1.0));
  return mean(add(relu(d), relu(scale(d, -1.0))));  // |d| = relu(d) + relu(-d)
}

Tensor sobel_gradients(const Tensor& x) {
  if (x.ndim() != 4 || x.dim(1) < 3 || x.dim(2) < 3)
    fail("sobel_gradients", "input must be (N, H, W, C) with H, W >= 3, got shape " + shape_str(x.shape()));
  return conv2d(x, fixed_filter(FixedFilter::sobel, int(x.dim(3)), x.dtype(), x.device()), Tensor(), 1, 0);
}

Tensor gradient_l1_loss(const Tensor& sr, const Tensor& hr) {
  return l1_of_filtered("gradient_l1_loss", sr, hr, sobel_gradients);  // (N, H-2, W-2, 2C)
}

Tensor feature_matching_loss(const std::vector<Tensor>& sr_features, const std::vector<Tensor>& hr_features) {
  if (sr_features.empty() || sr_features.size() != hr_features.size())
    fail("feature_matching_loss", "needs the same non-zero number of SR and HR feature maps, got " +
                                      std::to_string(sr_features.size()) + " and " +
                                      std::to_string(hr_features.size()));
  Tensor total = l1_loss(sr_features[0], hr_features[0]);
  for (size_t l = 1; l < sr_features.size(); ++l) total = add(total, l1_loss(sr_features[l], hr_features[l]));
  return scale(total, 1.0 / double(sr_features.size()));
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
  if (w.gradient_l1 > 0.0) {
    out.gradient_l1 = gradient_l1_loss(sr, hr);
    out.content = add(out.content, scale(out.gradient_l1, w.gradient_l1));
  }
  if (w.low_frequency_l1 > 0.0) {
    out.low_frequency_l1 = low_frequency_l1_loss(sr, hr);
    out.content = add(out.content, scale(out.low_frequency_l1, w.low_frequency_l1));
  }
  if (w.phase_mean_l1 > 0.0) {
    out.phase_mean_l1 = phase_mean_l1_loss(sr, hr);
    out.content = add(out.content, scale(out.phase_mean_l1, w.phase_mean_l1));
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

GeneratorLoss generator_loss(const Tensor& sr, const Tensor& hr, VGG19Features* vgg, Discriminator& d,
                             const LossWeights& w) {
  const bool matching = w.feature_match > 0.0;
  std::vector<Tensor> sr_features, hr_features;  // D's eight tapped activations of each
  Tensor logits = d.forward_features(sr, matching ? &sr_features : nullptr);
  GeneratorLoss out = generator_loss(sr, hr, vgg, logits, w);
  if (matching) {
    {
      NoGradGuard ng;  // HR's activations are the target
      d.forward_features(hr.detach(), &hr_features);
    }
    out.feature_match = feature_matching_loss(sr_features, hr_features);
    out.total = add(out.total, scale(out.feature_match, w.feature_match));
  }
  return out;
}

DiscriminatorLoss discriminator_loss_from_logits(const Tensor& real_logits, const Tensor& fake_logits,
                                                 double real_label) {
  if (!(real_label > 0.5 && real_label <= 1.0))
    fail("discriminator_loss", "the real label must be in (0.5, 1], got " + std::to_string(real_label));
  DiscriminatorLoss out;
  out.hr_logits = real_logits;
  out.sr_logits = fake_logits;
  out.real = real_label == 1.0
                 ? bce_logits_vs(real_logits, true)
                 : bce_with_logits(real_logits, Tensor::full(real_logits.shape(), real_label, real_logits.dtype(),
                                                             real_logits.device()));
  out.fake = bce_logits_vs(fake_logits, false);
  out.total = add(out.real, out.fake);
  out.d_hr_prob = mean_probability(real_logits);
  out.d_sr_prob = mean_probability(fake_logits);
  return out;
}

DiscriminatorLoss discriminator_loss(Module& d, const Tensor& hr, const Tensor& sr, double real_label) {
  Tensor real = d(hr);
  Tensor fake = d(sr.detach());  // no gradient reaches the generator
  return discriminator_loss_from_logits(real, fake, real_label);
}

}  // namespace srgan
