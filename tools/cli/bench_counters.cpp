// `srgan bench counters` (see bench_counters.h): loads the SASS facts, collects the rows' launch
// counts in the emulator, estimates each launch's H100 time, prints a table and writes JSON and
// the roofline picture.
#include "tools/cli/bench_counters.h"

#include <cxxabi.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/atomic_file.h"
#include "data/image_io.h"
#include "tools/cli/bench_counters_model.h"
#include "tools/cli/bench_counters_sass.h"

#ifndef SRGAN_SASS_DIR
#define SRGAN_SASS_DIR ""
#endif
#ifndef SRGAN_SOURCE_DIR
#define SRGAN_SOURCE_DIR "."
#endif

namespace srgan::app {
namespace {

using emu::MemKind;
using Json = nlohmann::ordered_json;

std::string demangle(const std::string& m) {
  int st = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(m.c_str(), nullptr, nullptr, &st), std::free);
  return st == 0 && d ? std::string(d.get()) : m;
}

// The demangled name without namespaces we own and without its parameter list, for tables.
std::string short_name(const std::string& demangled) {
  std::string s = demangled;
  for (const char* ns : {"srgan::kern::cuda::tg::", "srgan::kern::cuda::", "srgan::kern::", "srgan::app::",
                         "(anonymous namespace)::", "srgan::"}) {
    for (size_t p; (p = s.find(ns)) != std::string::npos;) s.erase(p, std::char_traits<char>::length(ns));
  }
  if (s.rfind("void ", 0) == 0) s.erase(0, 5);
  // Drop the parameter list: the first '(' outside template arguments.
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') ++depth;
    else if (s[i] == '>') --depth;
    else if (s[i] == '(' && depth == 0) return s.substr(0, i);
  }
  return s;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// SASS facts by demangled name (nvcc and g++ mangle anonymous namespaces differently).
struct SassIndex {
  std::map<std::string, SassKernel> by_name;
  std::string status;  // how they were found, or why not
  const SassKernel* find(const std::string& mangled) const {
    if (mangled.empty()) return nullptr;
    auto it = by_name.find(demangle(mangled));
    return it == by_name.end() ? nullptr : &it->second;
  }
};

SassIndex load_sass(const std::string& dir_opt) {
  SassIndex ix;
  const std::string dir = dir_opt.empty() ? std::string(SRGAN_SASS_DIR) : dir_opt;
  if (dir.empty()) {
    ix.status = "SASS counters unavailable: cuobjdump was not found when the build was configured "
                "(tools/scripts/setup_deps.sh installs it from PyPI: nvidia-cuda-cuobjdump); "
                "or pass --sass-dir";
    return ix;
  }
  const std::string sass = read_all(dir + "/kernels_sm90.sass"), res = read_all(dir + "/kernels_sm90.res");
  if (sass.empty()) {
    ix.status = "SASS counters unavailable: no " + dir + "/kernels_sm90.sass (build the srgan_sass target, "
                "which needs cuobjdump: tools/scripts/setup_deps.sh)";
    return ix;
  }
  for (auto& [m, k] : parse_sass(sass, res)) ix.by_name[demangle(m)] = k;
  ix.status = "SASS: " + dir + "/kernels_sm90.sass (" + std::to_string(ix.by_name.size()) + " kernels, sm_90)";
  return ix;
}

double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

struct RowTotals {
  double ms = 0, issued_macs = 0, l2 = 0, dram = 0, flops_useful = 0;
  size_t main = 0;  // the launch with the largest estimate
};

RowTotals totals(const Row& r, const std::vector<LaunchEstimate>& est) {
  RowTotals t;
  for (size_t i = 0; i < est.size(); ++i) {
    t.ms += est[i].ms;
    t.issued_macs += est[i].issued_macs;
    t.l2 += est[i].l2_bytes;
    t.dram += est[i].dram_bytes;
    if (est[i].ms > est[t.main].ms) t.main = i;
  }
  if (r.peak != Peak::mem) t.flops_useful = r.work;
  return t;
}

Json mem_json(const emu::MemCount& m, double s, bool global) {
  Json j;
  j["requests"] = m.requests * s;
  j["bytes"] = m.bytes * s;
  if (global) {
    j["sectors"] = m.sectors * s;
    j["sectors_per_request"] = ratio(m.sectors, m.requests);
    j["sector_efficiency"] = ratio(m.unique_bytes, 32.0 * m.sectors);
  } else {
    j["wavefronts"] = m.wavefronts * s;
    j["wavefronts_per_request"] = ratio(m.wavefronts, m.requests);
    j["ideal_wavefronts_per_request"] = ratio(m.ideal_wavefronts, m.requests);
  }
  return j;
}

Json mix_json(const SassMix& m) {
  Json j;
  j["instructions"] = m.instructions;
  for (int c = 0; c < int(SassClass::count_); ++c) j[sass_class_name(SassClass(c))] = m.by_class[c];
  j["bar_sync"] = m.bar_sync;
  j["macs_per_instruction"] = m.macs_per_instruction();
  j["integer_share"] = m.share(SassClass::integer);
  return j;
}

Json static_json(const SassKernel& k, const emu::LaunchCounts& c) {
  Json j;
  j["registers"] = k.regs;
  j["shared_static"] = k.shared_static;
  j["shared_dynamic"] = c.dynamic_smem;
  j["stack"] = k.stack;
  const int threads = int(c.block.x * c.block.y * c.block.z);
  const Occupancy o = sm90_occupancy(threads, k.regs, std::max(k.shared_static, 0) + int(c.dynamic_smem));
  j["blocks_per_sm"] = o.blocks_per_sm;
  j["occupancy"] = o.occupancy;
  j["occupancy_limit"] = o.limit;
  j["instructions"] = k.whole.instructions;
  if (k.has_loop) {
    j["main_loop"] = mix_json(k.loop);
    j["main_loop"]["picked_by"] = k.loop_marker;
  }
  return j;
}

Json launch_json(const emu::LaunchCounts& c, const SassKernel* k, const LaunchEstimate& e) {
  Json j;
  j["kernel"] = c.mangled.empty() ? c.kernel : short_name(demangle(c.mangled));
  j["mangled"] = c.mangled;
  j["grid"] = {c.grid.x, c.grid.y, c.grid.z};
  j["block"] = {c.block.x, c.block.y, c.block.z};
  j["blocks"] = c.blocks_total;
  j["blocks_counted"] = c.blocks_run;
  if (k) j["static"] = static_json(*k, c);
  const double s = c.scale();
  Json d;
  d["global_load"] = mem_json(c[MemKind::global_load], s, true);
  d["global_store"] = mem_json(c[MemKind::global_store], s, true);
  d["ldgsts"] = mem_json(c[MemKind::ldgsts], s, true);
  d["ldgsts_shared"] = mem_json(c[MemKind::ldgsts_shared], s, false);
  d["shared_load"] = mem_json(c[MemKind::shared_load], s, false);
  d["shared_store"] = mem_json(c[MemKind::shared_store], s, false);
  d["ldsm"] = mem_json(c[MemKind::ldsm], s, false);
  d["tma"] = mem_json(c[MemKind::tma], s, true);
  d["hmma"] = c.hmma * s;
  d["hgmma"] = c.hgmma * s;
  d["hmma_bf16"] = c.hmma_bf16 * s;
  d["barriers"] = c.barriers * s;
  d["warps"] = e.warps;
  j["dynamic"] = d;
  Json m;
  m["issued_macs"] = e.issued_macs;
  m["pipe"] = e.bf16 ? "bf16_mma" : e.tensor ? "tf32_mma" : "fp32";
  m["main_loop_passes"] = e.loop_iterations;
  m["issued_instructions"] = e.issued_instructions;
  m["l2_bytes"] = e.l2_bytes;
  m["dram_bytes"] = e.dram_bytes;
  m["wave_efficiency"] = e.wave_efficiency;
  m["math_ms"] = e.math_ms;
  m["l2_ms"] = e.l2_ms;
  m["dram_ms"] = e.dram_ms;
  m["issue_ms"] = e.issue_ms;
  m["ms"] = e.ms;
  m["bound"] = e.bound;
  j["estimate_h100"] = m;
  return j;
}

// One shared-memory figure for a launch: wavefronts per request over all shared loads (LDS + LDSM)
// and its conflict-free value.
void smem_load_figures(const emu::LaunchCounts& c, double& per_req, double& ideal) {
  const emu::MemCount& a = c[MemKind::shared_load];
  const emu::MemCount& b = c[MemKind::ldsm];
  per_req = ratio(a.wavefronts + b.wavefronts, a.requests + b.requests);
  ideal = ratio(a.ideal_wavefronts + b.ideal_wavefronts, a.requests + b.requests);
}

double sector_efficiency(const emu::LaunchCounts& c) {
  double u = 0, s = 0;
  for (MemKind k : {MemKind::global_load, MemKind::ldgsts}) {
    u += c[k].unique_bytes;
    s += c[k].sectors;
  }
  return ratio(u, 32.0 * s);
}

// A network row's estimate by kernel: launches and estimated ms of each kernel, largest first.
struct KernelShare {
  std::string kernel;
  int launches = 0;
  double ms = 0;
};
std::vector<KernelShare> by_kernel(const Row& r, const std::vector<LaunchEstimate>& est) {
  std::map<std::string, KernelShare> m;
  for (size_t i = 0; i < r.launches.size(); ++i) {
    const auto& c = r.launches[i];
    const std::string name = c.mangled.empty() ? c.kernel : short_name(demangle(c.mangled));
    KernelShare& k = m[name];
    k.kernel = name;
    ++k.launches;
    k.ms += est[i].ms;
  }
  std::vector<KernelShare> v;
  for (auto& [name, k] : m) v.push_back(k);
  std::sort(v.begin(), v.end(), [](const KernelShare& a, const KernelShare& b) { return a.ms > b.ms; });
  return v;
}

Json by_kernel_json(const std::vector<KernelShare>& shares) {
  Json j = Json::array();
  for (const KernelShare& k : shares) j.push_back({{"kernel", k.kernel}, {"launches", k.launches}, {"ms", k.ms}});
  return j;
}

// The twelve kernels with the most of a network row's estimate (`total` ms).
std::string by_kernel_text(const Row& r, const std::vector<KernelShare>& v, double total) {
  char line[256];
  std::snprintf(line, sizeof line, "\n# %s %s %s: %zu launches, %.3f ms ESTIMATED; the kernels with the most of it:\n",
                r.op.c_str(), r.shape.c_str(), r.variant.c_str(), r.launches.size(), total);
  std::string s = line;
  for (size_t i = 0; i < v.size() && i < 12; ++i) {
    std::snprintf(line, sizeof line, "  %8.3f ms %5.1f%% %5d x  %.90s\n", v[i].ms, 100 * ratio(v[i].ms, total),
                  v[i].launches, v[i].kernel.c_str());
    s += line;
  }
  return s;
}

int print_static_only(const SassIndex& ix, const std::string& why) {
  std::printf("# %s\n# %s\n", ix.status.c_str(), why.c_str());
  std::printf("%-70s %5s %7s %5s %7s %6s %6s %5s\n", "kernel (sm_90)", "regs", "smem", "occ", "loop", "mma",
              "macs/i", "int%");
  for (const auto& [name, k] : ix.by_name) {
    if (!k.has_loop) continue;
    std::printf("%-70.70s %5d %7d %5s %7d %6d %6.1f %4.0f%%\n", short_name(name).c_str(), k.regs, k.shared_static, "-",
                k.loop.instructions, k.loop[SassClass::mma], k.loop.macs_per_instruction(),
                100.0 * k.loop.share(SassClass::integer));
  }
  return ix.by_name.empty() ? 1 : 0;
}

}  // namespace

int bench_counters(const CounterOptions& opt) {
  const SassIndex ix = load_sass(opt.sass_dir);
  std::vector<Row> rows;
  try {
#ifdef SRGAN_WITH_CUDA
    rows = opt.network ? collect_network_rows(opt) : collect_counter_rows(opt);
#else
    throw std::runtime_error("this build has no CUDA kernels (nvcc was not found or -DSRGAN_CUDA=OFF)");
#endif
  } catch (const std::exception& e) {
    return print_static_only(ix, e.what());
  }
  std::fprintf(stderr, "%s\n", ix.status.c_str());

  Json out;
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  out["date"] = date;
  out["what"] = "H100 ESTIMATES from counts without a GPU: SASS of the built code (sm_90) and the CUDA "
                "emulator's memory counters; not measurements (model: docs/performance.md)";
  out["sass"] = ix.status;
  out["blocks_counted_per_launch"] = opt.max_blocks;
  out["ceilings"] = {{"tf32_flops", H100::kTf32Flops}, {"bf16_flops_assumed", H100::kBf16Flops}, {"fp32_flops", H100::kFp32Flops},
                     {"dram_bytes_per_s", H100::kDramBps}, {"l2_bytes_per_s_assumed", H100::kL2Bps},
                     {"sms", H100::kSms}, {"clock_hz_assumed", H100::kClockHz}};
  Json jrows = Json::array();
  std::string network_text;  // --network: each row's kernels, printed after the table

  std::printf("# srgan bench counters: H100 time ESTIMATES (no GPU), %s\n", ix.status.c_str());
  std::printf("%-22s %-24s %-22s %9s %-5s %7s | %-34s %6s %5s %7s %9s %6s\n", "op", "shape", "variant",
              "est ms", "bound", "use/iss", "main kernel", "mac/i", "int%", "sec/req", "wf/req", "sector");
  for (const Row& r : rows) {
    Json jr;
    jr["op"] = r.op;
    jr["shape"] = r.shape;
    jr["variant"] = r.variant;
    if (!r.error.empty()) {
      jr["error"] = r.error;
      jrows.push_back(jr);
      std::printf("%-22s %-24s %-22s %s\n", r.op.c_str(), r.shape.c_str(), r.variant.c_str(), r.error.c_str());
      continue;
    }
    std::vector<LaunchEstimate> est;
    Json jl = Json::array();
    for (const auto& c : r.launches) {
      const SassKernel* k = ix.find(c.mangled);
      est.push_back(estimate_launch(c, k));
      jl.push_back(launch_json(c, k, est.back()));
    }
    const RowTotals t = totals(r, est);
    jr["estimate_h100_ms"] = t.ms;
    jr["useful_flops"] = t.flops_useful;
    jr["issued_macs"] = t.issued_macs;
    if (t.flops_useful > 0) jr["useful_over_issued_macs"] = ratio(t.flops_useful / 2, t.issued_macs);
    jr["l2_bytes"] = t.l2;
    jr["dram_bytes"] = t.dram;
    jr["launches"] = jl;
    if (opt.network) {
      const std::vector<KernelShare> shares = by_kernel(r, est);
      jr["by_kernel"] = by_kernel_json(shares);
      network_text += by_kernel_text(r, shares, t.ms);
    }
    jrows.push_back(jr);

    char use[16] = "-", macpi[16] = "-", intp[16] = "-", secr[16] = "-", wf[24] = "-", seff[16] = "-";
    std::string main_name = "-", bound = "-";
    if (!r.launches.empty()) {
      const auto& c = r.launches[t.main];
      const SassKernel* k = ix.find(c.mangled);
      main_name = c.mangled.empty() ? c.kernel : short_name(demangle(c.mangled));
      bound = est[t.main].bound;
      if (t.flops_useful > 0 && t.issued_macs > 0) std::snprintf(use, sizeof use, "%.2f", t.flops_useful / 2 / t.issued_macs);
      if (k && k->has_loop) {
        std::snprintf(macpi, sizeof macpi, "%.1f", k->loop.macs_per_instruction());
        std::snprintf(intp, sizeof intp, "%.0f", 100.0 * k->loop.share(SassClass::integer));
      }
      const double greq = c[MemKind::global_load].requests + c[MemKind::ldgsts].requests;
      const double gsec = c[MemKind::global_load].sectors + c[MemKind::ldgsts].sectors;
      if (greq > 0) std::snprintf(secr, sizeof secr, "%.1f", gsec / greq);
      double per_req, ideal;
      smem_load_figures(c, per_req, ideal);
      if (per_req > 0) std::snprintf(wf, sizeof wf, "%.2f/%.2f", per_req, ideal);
      const double se = sector_efficiency(c);
      if (se > 0) std::snprintf(seff, sizeof seff, "%.0f%%", 100 * se);
    }
    std::printf("%-22s %-24s %-22s %9.4f %-5s %7s | %-34.34s %6s %5s %7s %9s %6s\n", r.op.c_str(), r.shape.c_str(),
                r.variant.c_str(), t.ms, bound.c_str(), use, main_name.c_str(), macpi, intp, secr, wf, seff);
  }
  std::printf("est ms: H100 ESTIMATE (max of math, L2, DRAM, issue per launch; docs/performance.md), summed over\n"
              "the row's launches. use/iss: useful / issued multiply-adds. main kernel: the launch with the largest\n"
              "estimate; mac/i and int%%: multiply-adds per issued instruction and integer share of its main loop (SASS);\n"
              "sec/req: 32-byte sectors per global load request (LDG and LDGSTS); wf/req: shared-load wavefronts per request /\n"
              "conflict-free value; sector: distinct bytes / sector bytes of its global loads.\n");
  std::fputs(network_text.c_str(), stdout);
  out["rows"] = jrows;
  if (!opt.json.empty()) {
    data::write_file_atomic(opt.json, out.dump(1) + "\n");
    std::fprintf(stderr, "wrote %s\n", opt.json.c_str());
  }
  if (!opt.plot.empty()) {
    const std::string json = opt.json.empty() ? opt.plot + ".json" : opt.json;
    if (opt.json.empty()) data::write_file_atomic(json, out.dump(1) + "\n");
    // Debian's python3 has python3-matplotlib; another python3 first on PATH may not.
    const std::string py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    const std::string cmd = py + " '" + std::string(SRGAN_SOURCE_DIR) + "/tools/scripts/plot_roofline.py' '" + json +
                            "' -o '" + opt.plot + "'";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "srgan bench counters: the plot failed (%s; it needs python3-matplotlib)\n", cmd.c_str());
      return 1;
    }
  }
  int failures = 0;
  for (const Row& r : rows) failures += !r.error.empty() && !is_library_variant(r.variant);
  return failures ? 3 : 0;
}

}  // namespace srgan::app
