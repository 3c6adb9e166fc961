// `srgan bench kernels` checks each variant's result before it trusts its time: the outputs of
// one call (every tensor the row writes) against the same call of the group's reference variant
// (the cuDNN / cuBLAS baseline, listed first; in the emulator, which has neither, the first of
// our variants that ran). Host-side and header-only, so tests/test_bench_output_check.cpp can
// hold it to hand-made cases.
//
// The measure is the largest difference relative to the largest reference value of that output,
// max |got - ref| / max |ref|, so it does not depend on the scale of a layer's values. A wrong
// index or a missed tile gives O(0.1..1); rounding gives ~1e-6 (fp32, another summation order)
// or ~1e-3 (TF32 inputs rounded to 10 mantissa bits), a few 1e-3 for BF16 (7 bits), for the sums of SRGAN's layers (up to
// 147,456 terms for a weight gradient at 16x96x96).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace srgan::app {

// Largest |got - ref| over largest |ref|; +infinity for a length mismatch or any non-finite
// value in got where ref is finite (a NaN must fail every tolerance). 0 when both are all zero.
inline double relative_max_diff(const std::vector<float>& got, const std::vector<float>& ref) {
  const double inf = std::numeric_limits<double>::infinity();
  if (got.size() != ref.size()) return inf;
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double r = ref[i], g = got[i];
    if (!std::isfinite(r)) continue;  // the reference's own overflow: nothing to hold got to
    if (!std::isfinite(g)) return inf;
    diff = std::max(diff, std::fabs(g - r));
    scale = std::max(scale, std::fabs(r));
  }
  if (diff == 0.0) return 0.0;
  return scale > 0.0 ? diff / scale : inf;
}

// How a variant rounds its inputs before it multiplies: not at all (fp32), to TF32 (10 mantissa
// bits) or to BF16 (7 bits). A pair is held to its coarser side.
enum class InputRounding { fp32 = 0, tf32 = 1, bf16 = 2 };
inline InputRounding coarser(InputRounding a, InputRounding b) { return a > b ? a : b; }

// The bound for a pair of variants: fp32 against fp32 1e-3 (about 100x the rounding seen for
// another summation order), 1e-2 when either side rounds its inputs to TF32 (~10x the largest
// seen), 3e-2 when either rounds to BF16 (its unit roundoff is 8x TF32's; ~10x the largest seen,
// still below the O(0.1..1) of a wrong index or a missed tile).
inline double output_tolerance(InputRounding r) {
  return r == InputRounding::bf16 ? 3e-2 : r == InputRounding::tf32 ? 1e-2 : 1e-3;
}

// One output of a row: its name (y, dx, dw, ...) and its values after one call.
struct NamedOutput {
  std::string name;
  std::vector<float> values;
};

struct OutputComparison {
  double max_err = 0.0;  // the largest relative_max_diff over the outputs
  std::string worst;     // the output it came from
  bool ok = true;
};

// Compares outputs by position (the rows of one group write the same tensors in the same order).
inline OutputComparison compare_outputs(const std::vector<NamedOutput>& got, const std::vector<NamedOutput>& ref,
                                        double tolerance) {
  OutputComparison c;
  if (got.size() != ref.size()) {
    c.max_err = std::numeric_limits<double>::infinity();
    c.worst = "(output count)";
    c.ok = false;
    return c;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = got[i].name == ref[i].name ? relative_max_diff(got[i].values, ref[i].values)
                                                : std::numeric_limits<double>::infinity();
    if (i == 0 || e > c.max_err) {
      c.max_err = e;
      c.worst = got[i].name;
    }
  }
  c.ok = c.max_err <= tolerance;  // false for NaN and infinity
  return c;
}

}  // namespace srgan::app
