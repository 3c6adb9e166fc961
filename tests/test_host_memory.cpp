// The host allocator behind CPU tensors (core/device.cpp): freed blocks of 1 MiB or more are kept
// and handed to the next request they fit (best fit), so a loop over same-shaped tensors (tiles,
// training steps) stops faulting in fresh pages; a block is never given to two live tensors.
#include "core/tensor.h"
#include "tests/test_common.h"

using namespace srgan;

TEST_CASE("a freed large host block is handed to the next tensor it fits", "[memory]") {
  const int64_t n = int64_t(1) << 20;  // 4 MiB of floats
  float* first = nullptr;
  {
    Tensor a = Tensor::empty({n});
    first = a.data<float>();
  }
  Tensor b = Tensor::empty({n});  // same size: the cached block
  CHECK(b.data<float>() == first);
  Tensor c = Tensor::empty({n});  // b still holds it: c must get other memory
  CHECK(c.data<float>() != first);
}

TEST_CASE("a smaller request takes the smallest cached block that fits", "[memory]") {
  // Sizes no other test uses, so whatever else is cached cannot fit between them.
  const int64_t big = int64_t(10) << 20, smaller = int64_t(25) << 18;  // 40 MiB, 25 MiB of floats
  float* first = nullptr;
  {
    Tensor a = Tensor::empty({big});
    first = a.data<float>();
  }
  Tensor b = Tensor::empty({smaller});  // e.g. an edge tile after an interior one
  CHECK(b.data<float>() == first);
}
