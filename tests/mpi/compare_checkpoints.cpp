// compare_checkpoints A B [--exact | --atol X --rtol Y] [--skip S]... [--only S]...: the tensors
// of two safetensors files, name by name (metadata is not compared); --skip leaves out names
// containing S, --only keeps just the names containing one of the S given. Prints the largest difference of each tensor that
// differs and exits 1 when a tensor is missing, has another shape, or differs by more than
// |a - b| <= atol + rtol * |b| (--exact: bit for bit). A test tool of tests/mpi/.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/safetensors.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: compare_checkpoints A B [--exact | --atol X --rtol Y]\n");
    return 2;
  }
  bool exact = false;
  double atol = 0, rtol = 0;
  std::vector<std::string> skip, only;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--exact") exact = true;
    else if (a == "--atol" && i + 1 < argc) atol = std::atof(argv[++i]);
    else if (a == "--rtol" && i + 1 < argc) rtol = std::atof(argv[++i]);
    else if (a == "--skip" && i + 1 < argc) skip.push_back(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only.push_back(argv[++i]);
    else return std::fprintf(stderr, "compare_checkpoints: unknown option %s\n", a.c_str()), 2;
  }
  try {
    const srgan::SafeTensors a = srgan::load_safetensors(argv[1]), b = srgan::load_safetensors(argv[2]);
    auto wanted = [&](const std::string& name) {
      for (const auto& s : skip)
        if (name.find(s) != std::string::npos) return false;
      if (only.empty()) return true;
      for (const auto& s : only)
        if (name.find(s) != std::string::npos) return true;
      return false;
    };
    int bad = 0, compared = 0;
    if (a.tensors.size() != b.tensors.size()) {
      std::printf("%zu tensors against %zu\n", a.tensors.size(), b.tensors.size());
      ++bad;
    }
    for (const auto& [name, ta] : a.tensors) {
      if (!wanted(name)) continue;
      ++compared;
      const srgan::Tensor tb = b.find(name);
      if (!tb.defined() || tb.shape() != ta.shape()) {
        std::printf("%s: missing or of another shape in %s\n", name.c_str(), argv[2]);
        ++bad;
        continue;
      }
      const std::vector<double> va = ta.to_vector_f64(), vb = tb.to_vector_f64();
      double worst = 0;
      bool differs = false;
      for (size_t i = 0; i < va.size(); ++i) {
        const double d = std::fabs(va[i] - vb[i]);
        const bool ok = exact ? std::memcmp(&va[i], &vb[i], sizeof(double)) == 0 : d <= atol + rtol * std::fabs(vb[i]);
        differs |= !ok;
        worst = std::fmax(worst, d);
      }
      if (differs) {
        std::printf("%s: differs, largest |a - b| = %.3g\n", name.c_str(), worst);
        ++bad;
      }
    }
    std::printf("%s: %d tensors compared, %d differ (%s)\n", bad ? "FAILED" : "ok", compared, bad,
                exact ? "bit for bit" : ("atol " + std::to_string(atol) + ", rtol " + std::to_string(rtol)).c_str());
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_checkpoints: %s\n", e.what());
    return 2;
  }
}
