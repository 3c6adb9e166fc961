// `srgan <command> [options]`: dispatches to the commands registered by the tools/cmd_*.cpp files.
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>

#include <unistd.h>

#include "core/backend.h"
#include "tools/cli/command.h"

namespace srgan::cli {

Args::Args(int argc, char** argv, const std::vector<std::string>& flags) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    const bool long_opt = a.size() > 2 && a.compare(0, 2, "--") == 0;
    const bool short_opt = a.size() == 2 && a[0] == '-' && std::isalpha(static_cast<unsigned char>(a[1]));  // -o
    if (long_opt || short_opt) {
      std::string name = a.substr(long_opt ? 2 : 1), value;
      auto eq = name.find('=');
      bool is_flag = false;
      for (auto& f : flags) is_flag |= (f == name);
      if (name == "h") name = "help";
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        is_flag = false;
        for (auto& f : flags) is_flag |= (f == name);
        if (is_flag || name == "help") throw std::runtime_error("option --" + name + " takes no value");
      } else if (!is_flag && name != "help") {
        if (i + 1 >= argc) throw std::runtime_error("option --" + name + " needs a value");
        value = argv[++i];
      }
      opts_[name] = value;
    } else {
      pos_.push_back(a);
    }
  }
}

std::string Args::get(const std::string& name, const std::string& def) const {
  auto it = opts_.find(name);
  return it == opts_.end() ? def : it->second;
}

int64_t Args::get_int(const std::string& name, int64_t def) const {
  auto it = opts_.find(name);
  if (it == opts_.end()) return def;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (end == it->second.c_str() || *end != '\0' || errno == ERANGE)
    throw std::runtime_error("option --" + name + " expects an integer, got '" + it->second + "'");
  return v;
}

int Args::get_int32(const std::string& name, int def) const {
  int64_t v = get_int(name, def);
  if (v < INT32_MIN || v > INT32_MAX)
    throw std::runtime_error("option --" + name + " is out of range: " + std::to_string(v));
  return int(v);
}

double Args::get_double(const std::string& name, double def) const {
  auto it = opts_.find(name);
  if (it == opts_.end()) return def;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || *end != '\0' || !std::isfinite(v))
    throw std::runtime_error("option --" + name + " expects a finite number, got '" + it->second + "'");
  return v;
}

void apply_threads_option(const Args& a) {
  const int asked = a.get_int32("threads", 0);
  const int used = set_cpu_threads(asked);
  if (asked > used)
    std::fprintf(stderr, "srgan: --threads %d is more than this machine's %d cores: using %d\n", asked, used, used);
}

void Args::allow_only(const std::vector<std::string>& known) const {
  for (auto& [k, v] : opts_) {
    bool ok = k == "help";
    for (auto& n : known) ok |= (n == k);
    if (!ok) throw std::runtime_error("unknown option --" + k + " (see --help)");
  }
}

static std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> r;
  return r;
}
int register_command(const Command& c) {
  registry()[c.name] = c;
  return 1;
}
const std::map<std::string, Command>& commands() { return registry(); }

}  // namespace srgan::cli

static void print_help() {
  std::printf("srgan: 4x super-resolution with a from-scratch C++/CUDA engine\n\nusage: srgan <command> [options]\n\ncommands:\n");
  for (auto& [name, c] : srgan::cli::commands()) std::printf("  %-10s %s\n", name.c_str(), c.summary.c_str());
  std::printf("\n`srgan <command> --help` describes a command's options.\n");
}

// OpenBLAS reads its settings once, when the library loads, so they are set here and this same
// program started again (once: the second start finds them set):
// - Its worker threads spin for up to 2^28 cycles after each GEMM before they sleep; srgan's CPU
//   path alternates GEMMs with its own threaded loops (kernels/cpu_parallel.h), which those
//   spinning threads then slow down (CPU inference and training steps about 17% slower on 2
//   cores, docs/performance.md). When OPENBLAS_THREAD_TIMEOUT is unset, it becomes 2^4 cycles.
// - On a CPU whose model OpenBLAS does not know it falls back to SSE3 kernels (Prescott), 2.7x
//   slower here than its AVX-512 ones; when OPENBLAS_CORETYPE is unset, the kernels the CPU's
//   instruction sets allow are named (kern::gemm_cpu_better_core).
// Setting the variables yourself, or SRGAN_NO_REEXEC=1, skips this.
static void reexec_with_openblas_settings(char** argv) {
  if (std::getenv("SRGAN_NO_REEXEC") || srgan::cpu_gemm_library().rfind("OpenBLAS", 0) != 0) return;
  bool again = false;
  if (!std::getenv("OPENBLAS_THREAD_TIMEOUT") && !std::getenv("GOTO_THREAD_TIMEOUT")) {
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
    again = true;
  }
  const std::string core = srgan::cpu_gemm_better_core();
  if (!std::getenv("OPENBLAS_CORETYPE") && !core.empty()) {
    setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    again = true;
  }
  if (!again) return;
  execv("/proc/self/exe", argv);  // returns only on failure: carry on with OpenBLAS as loaded
}

int main(int argc, char** argv) {
  using namespace srgan::cli;
  reexec_with_openblas_settings(argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  auto it = commands().find(argv[1]);
  if (it == commands().end()) {
    std::fprintf(stderr, "srgan: unknown command '%s'\n\n", argv[1]);
    print_help();
    return 2;
  }
  const Command& c = it->second;
  try {
    Args args(argc - 2, argv + 2, c.flags);
    if (args.has("help")) {
      std::printf("%s\n", c.usage.c_str());
      return 0;
    }
    return c.run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "srgan %s: error: %s\n", c.name.c_str(), e.what());
    return 1;
  }
}
