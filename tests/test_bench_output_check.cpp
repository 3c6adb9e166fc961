// The result check of `srgan bench kernels` (tools/cli/bench_output_check.h): what it accepts
// (rounding of the size TF32 or another summation order gives) and what it must refuse (a wrong
// value, a NaN, a missing output). The emulated `bench kernels --tiny` smoke test runs it on the
// real variants (tests/cuda_emu/check_bench_smoke.cmake).
#include "tests/test_common.h"

#include <cmath>
#include <limits>
#include <vector>

#include "tools/cli/bench_output_check.h"

using namespace srgan::app;

namespace {
std::vector<float> ramp(int n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[size_t(i)] = scale * float(i - n / 2) / float(n);
  return v;
}
}  // namespace

TEST_CASE("relative_max_diff: the largest difference over the largest reference value") {
  const std::vector<float> ref = {1.f, -4.f, 2.f, 0.f};
  CHECK(relative_max_diff(ref, ref) == 0.0);
  std::vector<float> got = ref;
  got[2] = 2.5f;  // |diff| 0.5, max |ref| 4
  CHECK(relative_max_diff(got, ref) == 0.125);
  // Independent of the scale of the values.
  std::vector<float> ref_big = ref, got_big = got;
  for (float& v : ref_big) v *= 1024.f;
  for (float& v : got_big) v *= 1024.f;
  CHECK(relative_max_diff(got_big, ref_big) == 0.125);
}

TEST_CASE("relative_max_diff: NaN, infinity, lengths and all-zero references") {
  const std::vector<float> ref = {1.f, 2.f, 3.f};
  std::vector<float> got = ref;
  got[1] = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isinf(relative_max_diff(got, ref)));
  got[1] = std::numeric_limits<float>::infinity();
  CHECK(std::isinf(relative_max_diff(got, ref)));
  CHECK(std::isinf(relative_max_diff({1.f, 2.f}, ref)));
  const std::vector<float> zeros(3, 0.f);
  CHECK(relative_max_diff(zeros, zeros) == 0.0);
  CHECK(std::isinf(relative_max_diff({0.f, 1e-9f, 0.f}, zeros)));  // any difference from all-zero fails
}

TEST_CASE("compare_outputs: the worst output decides, against the tolerance for the precision") {
  const std::vector<NamedOutput> ref = {{"y", ramp(64, 2.f)}, {"dx", ramp(64, 8.f)}, {"dw", ramp(16, 100.f)}};
  std::vector<NamedOutput> got = ref;
  // TF32-sized rounding in dx (5e-4 of its largest value): inside the TF32 bound, outside fp32's.
  got[1].values[10] += 5e-4f * 4.f;
  OutputComparison tf32 = compare_outputs(got, ref, output_tolerance(InputRounding::tf32));
  CHECK(tf32.ok);
  CHECK(tf32.worst == "dx");
  CHECK(std::fabs(tf32.max_err - 5e-4) < 1e-6);
  const OutputComparison fp32_pair = compare_outputs(got, ref, output_tolerance(InputRounding::fp32));
  CHECK(fp32_pair.max_err == tf32.max_err);
  CHECK(fp32_pair.ok);  // 5e-4 < 1e-3
  got[1].values[10] += 4e-3f * 4.f;  // now 4.5e-3: a TF32 pair passes, an fp32 pair does not
  CHECK(compare_outputs(got, ref, output_tolerance(InputRounding::tf32)).ok);
  CHECK_FALSE(compare_outputs(got, ref, output_tolerance(InputRounding::fp32)).ok);
  got[1].values[10] += 1e-2f * 4.f;  // 1.45e-2: BF16-sized, past a TF32 pair's bound
  CHECK(compare_outputs(got, ref, output_tolerance(InputRounding::bf16)).ok);
  CHECK_FALSE(compare_outputs(got, ref, output_tolerance(InputRounding::tf32)).ok);
  // A pair is held to its coarser side.
  CHECK(coarser(InputRounding::fp32, InputRounding::bf16) == InputRounding::bf16);
  CHECK(coarser(InputRounding::tf32, InputRounding::fp32) == InputRounding::tf32);
  // A wrong weight-gradient element (a missed tile): fails every bound, and names dw.
  got = ref;
  got[2].values[3] = 0.f;
  const OutputComparison wrong = compare_outputs(got, ref, output_tolerance(InputRounding::tf32));
  CHECK_FALSE(wrong.ok);
  CHECK(wrong.worst == "dw");
  CHECK_FALSE(compare_outputs(got, ref, output_tolerance(InputRounding::bf16)).ok);
  // A NaN anywhere fails.
  got = ref;
  got[0].values[0] = std::numeric_limits<float>::quiet_NaN();
  CHECK_FALSE(compare_outputs(got, ref, output_tolerance(InputRounding::tf32)).ok);
}

TEST_CASE("compare_outputs: rows that write other outputs than the reference fail") {
  const std::vector<NamedOutput> ref = {{"y", ramp(8, 1.f)}, {"dx", ramp(8, 1.f)}};
  const std::vector<NamedOutput> fewer = {{"y", ramp(8, 1.f)}};
  CHECK_FALSE(compare_outputs(fewer, ref, 1.0).ok);
  const std::vector<NamedOutput> renamed = {{"y", ramp(8, 1.f)}, {"dw", ramp(8, 1.f)}};
  CHECK_FALSE(compare_outputs(renamed, ref, 1.0).ok);
}
