// The table and the JSON of `srgan bench kernels` (tools/cli/bench_kernels_report.h).
#include "tools/cli/bench_kernels_report.h"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "data/atomic_file.h"

namespace srgan::app {

double row_rate(const Row& r) { return r.ms > 0 ? r.work / (r.ms * 1e-3) : 0.0; }

double row_pct_peak(const Env& e, const Row& r) {
  const double v = row_rate(r);
  switch (r.peak) {
    case Peak::fp32: return e.fp32_TFLOPs > 0 ? 100.0 * v / (e.fp32_TFLOPs * 1e12) : 0;
    case Peak::tf32: return e.tf32_TFLOPs > 0 ? 100.0 * v / (e.tf32_TFLOPs * 1e12) : 0;
    case Peak::bf16: return e.bf16_TFLOPs > 0 ? 100.0 * v / (e.bf16_TFLOPs * 1e12) : 0;
    case Peak::mem: return e.copy_GBps > 0 ? 100.0 * v / (e.copy_GBps * 1e9) : 0;
  }
  return 0;
}

void print_kernel_table(const Report& rep) {
  const Env& e = rep.env;
  std::printf("\n%s | copy %.0f GB/s | cuBLAS fp32 %.1f TFLOP/s | TF32 %.1f TFLOP/s | BF16 %.1f TFLOP/s\n",
              e.device.c_str(), e.copy_GBps, e.fp32_TFLOPs, e.tf32_TFLOPs, e.bf16_TFLOPs);
  std::printf("%-24s %-26s %-22s %9s %12s %7s %8s %9s %8s\n", "op", "shape", "variant", "ms", "rate", "%peak",
              "speedup", "torch ms", "err");
  for (const Row& r : rep.rows) {
    if (!r.error.empty()) {
      std::printf("%-24s %-26s %-22s FAILED: %s\n", r.op.c_str(), r.shape.c_str(), r.variant.c_str(), r.error.c_str());
      continue;
    }
    char rate_s[32], speed[16], anchor[16], err[16];
    if (r.peak == Peak::mem) std::snprintf(rate_s, sizeof rate_s, "%.0f GB/s", row_rate(r) / 1e9);
    else std::snprintf(rate_s, sizeof rate_s, "%.1f TF/s", row_rate(r) / 1e12);
    if (r.base_ms > 0) std::snprintf(speed, sizeof speed, "%.2fx", r.base_ms / r.ms);
    else std::snprintf(speed, sizeof speed, "-");
    if (r.anchor_ms > 0) std::snprintf(anchor, sizeof anchor, "%.3f", r.anchor_ms);
    else std::snprintf(anchor, sizeof anchor, "-");
    if (r.is_reference) std::snprintf(err, sizeof err, "ref");
    else if (r.max_err >= 0) std::snprintf(err, sizeof err, "%.1e", r.max_err);
    else std::snprintf(err, sizeof err, "-");
    std::printf("%-24s %-26s %-22s %9.4f %12s %6.1f%% %8s %9s %8s\n", r.op.c_str(), r.shape.c_str(), r.variant.c_str(),
                r.ms, rate_s, row_pct_peak(e, r), speed, anchor, err);
  }
  std::printf("rate: TFLOP/s (conv, linear, gemm) or GB/s of minimal traffic; %%peak against the measured\n"
              "peak above (TF32 / BF16 peak for such variants); speedup = baseline ms / ms (baseline: cudnn, cublas\n"
              "or cudnn + prelu); torch ms: PyTorch fp32 anchor from GUIDE.md (H100, 2026-11-26);\n"
              "err: max |diff| / max |ref| of the row's outputs after one call against the reference row\n"
              "(ref: the baseline, or the first that ran); over 1e-3 (1e-2 with TF32, 3e-2 with BF16) fails the row.\n");
}

void write_kernel_json(const Report& rep, const std::string& path) {
  using Json = nlohmann::ordered_json;
  const Env& e = rep.env;
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  Json doc = {{"device", e.device}, {"date", date}, {"quick", e.quick}, {"tiny", e.tiny}, {"once", e.once}};
  doc["peaks"] = {{"copy_GBps", e.copy_GBps},
                  {"cublas_fp32_TFLOPs", e.fp32_TFLOPs},
                  {"cublas_tf32_TFLOPs", e.tf32_TFLOPs},
                  {"cublas_bf16_TFLOPs", e.bf16_TFLOPs}};
  Json rows = Json::array();
  for (const Row& r : rep.rows) {
    Json j = {{"op", r.op}, {"shape", r.shape}, {"variant", r.variant}};
    if (!r.error.empty()) {
      j["error"] = r.error;
    } else {
      const bool mem = r.peak == Peak::mem;
      j["ms"] = r.ms;
      j["unit"] = mem ? "GB/s" : "TFLOP/s";
      j["rate"] = mem ? row_rate(r) / 1e9 : row_rate(r) / 1e12;
      j["pct_peak"] = row_pct_peak(e, r);
      j["peak"] = mem ? "copy" : r.peak == Peak::tf32 ? "tf32" : r.peak == Peak::bf16 ? "bf16" : "fp32";
      if (r.base_ms > 0) j["baseline_ms"] = r.base_ms, j["speedup"] = r.base_ms / r.ms;
      if (r.anchor_ms > 0) j["torch_anchor_ms"] = r.anchor_ms;
      if (r.is_reference) j["reference"] = true;
      if (r.max_err >= 0) j["max_err"] = r.max_err, j["checked_vs"] = r.checked_vs;
    }
    rows.push_back(std::move(j));
  }
  doc["rows"] = std::move(rows);
  data::write_file_atomic(path, doc.dump(1) + "\n");
}

}  // namespace srgan::app
