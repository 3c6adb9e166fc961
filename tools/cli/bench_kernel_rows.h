// The rows of `srgan bench kernels` (every CUDA kernel variant at SRGAN's shapes, beside its
// cuDNN / cuBLAS baseline), shared by the two benchmarks that walk them: `bench kernels` times each
// row on a GPU (cmd_bench_cuda.cu), `bench counters` counts each row's launches in the CUDA
// emulator (bench_counters_cuda.cu). A row is an op, a shape, a variant and a callable that runs
// it once (on input rotation i).
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/cuda_emu/emu_counters.h"
#include "tools/cli/bench_output_check.h"

namespace srgan::app {

struct Env {
  bool quick = false;
  bool tiny = false;      // --tiny: shapes cut down by tiny_batch / tiny_side, one call per row
  bool counting = false;  // bench counters: one input set, buffers left unfilled (NaN)
  bool once = false;      // bench kernels --once: one call per row, one input set
  size_t l2_bytes = 50u << 20;
  double copy_GBps = 0, fp32_TFLOPs = 0, tf32_TFLOPs = 0, bf16_TFLOPs = 0;
  std::string device;
};

enum class Peak { fp32, tf32, bf16, mem };

struct Row {
  std::string op, shape, variant;
  double ms = 0, work = 0;  // work: FLOPs (fp32/tf32/bf16 peaks) or bytes (mem)
  Peak peak = Peak::fp32;
  double base_ms = 0;       // baseline of the same op and shape (0: none)
  double anchor_ms = 0;     // PyTorch anchor from GUIDE.md (0: none)
  std::string error;
  // bench kernels' result check (bench_output_check.h): max |diff| / max |ref| of the row's
  // outputs against the group's reference variant (checked_vs); -1: not checked (no outputs
  // named, or the row is the reference itself).
  double max_err = -1;
  std::string checked_vs;
  bool is_reference = false;
  std::vector<emu::LaunchCounts> launches;  // bench counters: what the row launched
};

struct Report;
// Receives each row with the callable that runs it; without one, rows are timed.
using RowSink = std::function<void(Report&, Row, const std::function<void(int)>&)>;

struct Report {
  Env env;
  std::vector<Row> rows;
  int failures = 0;
  std::string filter;
  std::string shape;  // '|'-separated parts, one of which a row's shape contains (empty: all)
  RowSink sink;
  // Outputs of the current group's timed rows (row index, outputs after the first timed call),
  // compared when the group closes (set_baseline in cmd_bench_cuda.cu).
  std::vector<std::pair<size_t, std::vector<NamedOutput>>> pending_outputs;
  bool wanted(const std::string& op) const { return filter.empty() || op.find(filter) != std::string::npos; }
  bool shape_wanted(const std::string& s) const {
    if (shape.empty()) return true;
    for (size_t b = 0;;) {
      const size_t e = shape.find('|', b);
      const std::string part = shape.substr(b, e == std::string::npos ? std::string::npos : e - b);
      if (!part.empty() && s.find(part) != std::string::npos) return true;
      if (e == std::string::npos) return false;
      b = e + 1;
    }
  }
};

// Walks every row (the goal shapes only with quick), handing each to rep.sink or timing it.
void add_kernel_rows(Report& rep, bool quick);

// Whether a variant is a library baseline (cuDNN, cuBLAS): not ours, absent from the emulator.
inline bool is_library_variant(const std::string& v) { return v.rfind("cudnn", 0) == 0 || v.rfind("cublas", 0) == 0; }

}  // namespace srgan::app
