// The convolution's fused epilogues on the GPU: conv + bias + PReLU against the unfused
// composition, and the inference epilogue (scale, shift, PReLU, residual) against the double
// reference, for every CUDA variant.
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/conv2d_fused.h"
#include "kernels/prelu.h"
#include "tests/cuda/conv2d_test_fixtures.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;
using namespace srgan::test::conv;

TEST_CASE("fused conv + bias + PReLU equals the unfused composition", "[cuda][conv2d][fused]") {
  const Shape shapes[] = {
      {"odd", 2, 9, 7, 5, 6, 3, 3, 1, 1},
      {"G head 9x9 3->64 @24", 2, 24, 24, 3, 64, 9, 9, 1, 4},
      {"G up 3x3 64->256 @24", 2, 24, 24, 64, 256, 3, 3, 1, 1},
  };
  uint64_t seed = 5000;
  for (Shape s : shapes) {
    if (!fit_to_machine(s)) continue;
    Data d = make(s, seed);
    seed += 10;
    const Conv2dParams& p = d.p;
    INFO(describe(s));
    DevBuf x(d.x), w(d.w), b(d.b);
    DevBuf y(d.ny), pre(d.ny), y_unfused(d.ny), z(d.ny);
    for (bool per_channel : {false, true}) {
      INFO("per_channel " << per_channel);
      // Slopes of both signs, so negative inputs exercise the slope.
      auto slope_h = random_vector<float>(per_channel ? size_t(p.K) : 1, seed + 7, -0.5, 0.5);
      DevBuf slope(slope_h);
      PreluParams pp;
      pp.M = int64_t(p.N) * p.P() * p.Q();
      pp.C = p.K;
      pp.per_channel = per_channel;
      // Ground truth in double: conv reference, then PReLU reference.
      std::vector<double> act_ref(d.ny);
      const auto slope_d = to_double(slope_h);
      prelu_forward_cpu(pp, d.y_ref.data(), slope_d.data(), act_ref.data());
      for (ConvAlgo a : kAlgos) {
        INFO("algo " << conv_algo_name(a));
        // Unfused: convolution, then PReLU as a separate kernel.
        z.poison();
        y_unfused.poison();
        conv2d_forward_cuda(p, x, w, b, z, a, nullptr);
        prelu_forward_cuda(pp, z, slope, y_unfused, nullptr);
        const auto z_h = z.download(), yu_h = y_unfused.download();
        // Fused, with and without the pre-activation output.
        y.poison();
        pre.poison();
        conv2d_bias_prelu_forward_cuda(p, x, w, b, slope, per_channel, y, pre, a, nullptr);
        const auto y_h = y.download(), pre_h = pre.download();
        // Same arithmetic in the same order (the epilogue adds the bias, then applies the same
        // leaky_f): the fused result must equal the composition bit for bit.
        SRGAN_CHECK_CLOSE(bitwise_equal(y_h, yu_h));
        SRGAN_CHECK_CLOSE(bitwise_equal(pre_h, z_h));
        SRGAN_CHECK_CLOSE(compare(y_h, act_ref, tol_for(a, double(p.R) * p.S * p.C)));
        y.poison();
        conv2d_bias_prelu_forward_cuda(p, x, w, b, slope, per_channel, y, nullptr, a, nullptr);
        SRGAN_CHECK_CLOSE(bitwise_equal(y.download(), yu_h));
      }
    }
  }
}

// Inference epilogue (conv2d_affine_act_forward_cuda): y = act(conv * scale + shift) + residual,
// the batch norm folded into scale / shift, in every variant's store: the v1 loop, v2/v3 tiles,
// v4 (one split and split-K), v4's narrow-N tail, v6's tail and narrow-C paths, cuDNN + a second
// pass. Ground truth: the double convolution without bias, then the CPU epilogue in double.
TEST_CASE("inference epilogue: scale, shift, PReLU and residual in the convolution's store", "[cuda][conv2d][fused]") {
  const Shape shapes[] = {
      {"odd (v3 under v4)", 2, 9, 7, 5, 6, 3, 3, 1, 1},
      {"G body 3x3 64->64 @12", 1, 12, 12, 64, 64, 3, 3, 1, 1},
      {"split-K 256->64 @4", 1, 4, 4, 256, 64, 3, 3, 1, 1},
      {"tail 9x9 16->3 (narrow-N)", 1, 13, 11, 16, 3, 9, 9, 1, 4},
      {"tail 9x9 64->3 (v6's tail path)", 1, 9, 10, 64, 3, 9, 9, 1, 4},
      {"head 9x9 3->64 (v6's narrow-C path)", 1, 10, 9, 3, 64, 9, 9, 1, 4},
  };
  struct Parts {
    bool scale, shift, slope, per_channel, residual;
  };
  const Parts parts[] = {{true, true, true, false, true},
                         {false, true, true, true, false},
                         {true, false, false, false, true},
                         {false, false, false, false, false}};
  uint64_t seed = 8100;
  for (Shape s : shapes) {
    if (!fit_to_machine(s)) continue;
    Data d = make(s, seed += 10);
    const Conv2dParams& p = d.p;
    INFO(describe(s));
    const int64_t M = int64_t(p.N) * p.P() * p.Q();
    std::vector<double> conv(d.ny);
    const auto xd = to_double(d.x), wd = to_double(d.w);
    conv2d_forward_cpu_ref<double>(p, xd.data(), wd.data(), nullptr, conv.data());
    const auto scale_h = random_vector<float>(size_t(p.K), seed + 5, 0.5, 1.5);
    const auto shift_h = random_vector<float>(size_t(p.K), seed + 6, -1.0, 1.0);
    const auto slope_h = random_vector<float>(size_t(p.K), seed + 7, -0.5, 0.5);
    const auto res_h = random_vector<float>(d.ny, seed + 8, -2.0, 2.0);
    DevBuf x(d.x), w(d.w), scale(scale_h), shift(shift_h), slope(slope_h), res(res_h), y(d.ny);
    for (const Parts& q : parts) {
      INFO("scale " << q.scale << " shift " << q.shift << " slope " << q.slope << " per_channel " << q.per_channel
                    << " residual " << q.residual);
      std::vector<double> ref = conv;
      const auto sc = to_double(scale_h), sh = to_double(shift_h), sl = to_double(slope_h), rs = to_double(res_h);
      conv_epilogue_cpu<double>(M, p.K, q.scale ? sc.data() : nullptr, q.shift ? sh.data() : nullptr,
                                q.slope ? sl.data() : nullptr, q.per_channel, q.residual ? rs.data() : nullptr,
                                ref.data());
      for (ConvAlgo a : kAlgos) {
        INFO("algo " << conv_algo_name(a));
        y.poison();
        conv2d_affine_act_forward_cuda(p, x, w, q.scale ? scale.get() : nullptr, q.shift ? shift.get() : nullptr,
                                       q.slope ? slope.get() : nullptr, q.per_channel,
                                       q.residual ? res.get() : nullptr, y, a, nullptr);
        SRGAN_CHECK_CLOSE(compare(y.download(), ref, tol_for(a, double(p.R) * p.S * p.C)));
      }
    }
  }
}
