// Every op rejects wrong ranks, shapes, dtypes and devices with a message that names the op and
// the shapes involved.
#include "core/check.h"
#include "core/ops.h"
#include "tests/test_common.h"

using namespace srgan;
using srgan::test::Contains;

namespace {
Tensor f32(const Shape& s) { return Tensor::full(s, 0.5); }
Tensor f64(const Shape& s) { return Tensor::full(s, 0.5, DType::f64); }
// A tensor that claims to live on a CUDA device (its bytes are on the host). Ops must reject the
// mix of devices before touching any memory, so this is enough to test the check on a CPU machine.
Tensor fake_cuda(const Shape& s) {
  Tensor t = f32(s);
  auto impl = std::make_shared<TensorImpl>(*t.impl());
  impl->device = Device::cuda;
  return Tensor(impl);
}
}  // namespace

TEST_CASE("conv2d rejects bad arguments naming the op and shapes", "[errors][conv2d]") {
  Tensor x = f32({1, 5, 5, 3}), w = f32({4, 3, 3, 3}), b = f32({4});
  REQUIRE_THROWS_WITH(conv2d(f32({5, 5, 3}), w, b, 1, 1), Contains("conv2d") && Contains("(5, 5, 3)"));
  REQUIRE_THROWS_WITH(conv2d(x, f32({4, 3, 3, 2}), b, 1, 1), Contains("conv2d") && Contains("(4, 3, 3, 2)") && Contains("(1, 5, 5, 3)"));
  REQUIRE_THROWS_WITH(conv2d(x, w, f32({5}), 1, 1), Contains("conv2d") && Contains("bias"));
  REQUIRE_THROWS_WITH(conv2d(x, w, b, 0, 1), Contains("conv2d") && Contains("stride"));
  REQUIRE_THROWS_WITH(conv2d(f32({1, 2, 2, 3}), f32({4, 5, 5, 3}), b, 1, 0), Contains("conv2d") && Contains("larger"));
  REQUIRE_THROWS_WITH(conv2d(x, f64({4, 3, 3, 3}), Tensor(), 1, 1), Contains("conv2d") && Contains("dtype mismatch"));
  REQUIRE_THROWS_WITH(conv2d(x, fake_cuda({4, 3, 3, 3}), Tensor(), 1, 1), Contains("conv2d") && Contains("device mismatch"));
}

TEST_CASE("prelu rejects bad arguments", "[errors][prelu]") {
  REQUIRE_THROWS_WITH(prelu(f32({2, 3, 3, 4}), f32({3})), Contains("prelu") && Contains("(3,)"));
  REQUIRE_THROWS_WITH(prelu(f32({2, 3, 3, 4}), f64({1})), Contains("prelu") && Contains("dtype mismatch"));
  REQUIRE_THROWS_WITH(prelu(f32({2, 3, 3, 4}), fake_cuda({1})), Contains("prelu") && Contains("device mismatch"));
}

TEST_CASE("batch_norm rejects bad arguments", "[errors][batch_norm]") {
  Tensor rm = f32({4}), rv = f32({4});
  REQUIRE_THROWS_WITH(batch_norm(f32({2, 3, 3, 4}), f32({3}), f32({4}), rm, rv, true), Contains("batch_norm") && Contains("weight"));
  REQUIRE_THROWS_WITH(batch_norm(f32({4}), f32({4}), f32({4}), rm, rv, true), Contains("batch_norm") && Contains("(4,)"));
  REQUIRE_THROWS_WITH(batch_norm(f32({1, 1, 1, 4}), f32({4}), f32({4}), rm, rv, true), Contains("batch_norm") && Contains("more than one value"));
  Tensor rm_bad = f32({5});
  REQUIRE_THROWS_WITH(batch_norm(f32({2, 3, 3, 4}), f32({4}), f32({4}), rm_bad, rv, false), Contains("running_mean") && Contains("(5,)"));
}

TEST_CASE("pixel_shuffle, max_pool2x2 and linear reject bad arguments", "[errors][pixel_shuffle][max_pool2x2][linear]") {
  REQUIRE_THROWS_WITH(pixel_shuffle(f32({1, 2, 2, 6}), 2), Contains("pixel_shuffle") && Contains("(1, 2, 2, 6)"));
  REQUIRE_THROWS_WITH(pixel_shuffle(f32({2, 2, 8}), 2), Contains("pixel_shuffle") && Contains("4 dimensions"));
  REQUIRE_THROWS_WITH(max_pool2x2(f32({1, 1, 4, 3})), Contains("max_pool2x2") && Contains("(1, 1, 4, 3)"));
  REQUIRE_THROWS_WITH(linear(f32({2, 5}), f32({3, 4}), Tensor()), Contains("linear") && Contains("(2, 5)") && Contains("(3, 4)"));
  REQUIRE_THROWS_WITH(linear(f32({2, 4}), f32({3, 4}), f32({4})), Contains("linear") && Contains("bias"));
}

TEST_CASE("elementwise ops and losses reject mismatched shapes, dtypes and devices", "[errors][add][mul][mse_loss][bce_with_logits]") {
  REQUIRE_THROWS_WITH(add(f32({2, 3}), f32({3, 2})), Contains("add") && Contains("(2, 3)") && Contains("(3, 2)"));
  REQUIRE_THROWS_WITH(mul(f32({2, 3}), f64({2, 3})), Contains("mul") && Contains("dtype mismatch"));
  REQUIRE_THROWS_WITH(add(f32({2, 3}), fake_cuda({2, 3})), Contains("add") && Contains("device mismatch"));
  REQUIRE_THROWS_WITH(mse_loss(f32({4, 1}), f32({4})), Contains("mse_loss") && Contains("(4, 1)") && Contains("(4,)"));
  REQUIRE_THROWS_WITH(bce_with_logits(f32({4, 1}), f32({1, 4})), Contains("bce_with_logits") && Contains("(1, 4)"));
  REQUIRE_THROWS_WITH(reshape(f32({2, 3}), {4, 2}), Contains("reshape") && Contains("(4, 2)"));
  REQUIRE_THROWS_WITH(channel_affine(f32({2, 3}), f32({2}), f32({3})), Contains("channel_affine") && Contains("scale"));
  REQUIRE_THROWS_WITH(mean(f32({0, 3})), Contains("mean") && Contains("no elements"));
}

TEST_CASE("undefined tensors are rejected by name", "[errors]") {
  REQUIRE_THROWS_WITH(relu(Tensor()), Contains("relu") && Contains("input is undefined"));
  REQUIRE_THROWS_WITH(conv2d(f32({1, 3, 3, 1}), Tensor(), Tensor(), 1, 0), Contains("conv2d") && Contains("weight"));
}
