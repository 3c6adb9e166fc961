// Test helpers shared by every Catch2 test: the Catch2 2.x / 3.x include switch, random fills,
// temporary folders, error messages and file bytes, and the tolerance check
// |a - b| <= atol + rtol * |ref| that reports the worst and first bad index.
#pragma once
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
using Catch::Approx;
#define SRGAN_CATCH3 1
#else
#include <catch2/catch.hpp>
#endif

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <stdexcept>
#include <sstream>
#include <string>
#include <vector>

namespace srgan::test {

// Substring matcher under one name for Catch2 2.x (Contains) and 3.x (ContainsSubstring).
#ifdef SRGAN_CATCH3
inline Catch::Matchers::StringContainsMatcher Contains(const std::string& s) {
  return Catch::Matchers::ContainsSubstring(s);
}
#else
inline Catch::Matchers::StdString::ContainsMatcher Contains(const std::string& s) {
  return Catch::Matchers::Contains(s);
}
#endif

// Uniform values in [lo, hi) from a seeded generator; never all zeros.
template <typename T>
std::vector<T> random_vector(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& e : v) e = T(d(gen));
  return v;
}

// A fresh folder under the system temp dir (tagged, per process), removed at scope exit; write
// permissions are restored first so tests that make it unreadable still clean up.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() / ("srgan_test_" + tag + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// The message of the std::runtime_error (srgan::Error is one) that f throws; "" when none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// A whole file's bytes, and a file holding exactly `bytes`.
inline std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

struct CloseReport {
  bool ok = true;
  double max_err = 0.0;
  int64_t first_bad = -1;
  int64_t worst = -1;
  std::string message;
};

// Element-wise |got - ref| <= atol + rtol * |ref|; NaN in got always fails.
template <typename A, typename B>
CloseReport all_close(const A* got, const B* ref, int64_t n, double atol, double rtol) {
  CloseReport r;
  for (int64_t i = 0; i < n; ++i) {
    double g = double(got[i]), e = double(ref[i]);
    double err = std::fabs(g - e);
    bool bad = !(err <= atol + rtol * std::fabs(e));  // NaN compares false -> bad
    if (std::isnan(err) || err > r.max_err) {
      r.max_err = std::isnan(err) ? INFINITY : err;
      r.worst = i;
    }
    if (bad && r.first_bad < 0) r.first_bad = i;
  }
  r.ok = r.first_bad < 0;
  std::ostringstream os;
  os << "n=" << n << " max_err=" << r.max_err << " at " << r.worst << " (atol=" << atol
     << ", rtol=" << rtol << ")";
  if (!r.ok) os << " first bad index " << r.first_bad << ": got " << double(got[r.first_bad])
                << " expected " << double(ref[r.first_bad]);
  r.message = os.str();
  return r;
}

template <typename A, typename B>
CloseReport all_close(const std::vector<A>& got, const std::vector<B>& ref, double atol, double rtol) {
  if (got.size() != ref.size()) {
    CloseReport r;
    r.ok = false;
    r.message = "size mismatch: " + std::to_string(got.size()) + " vs " + std::to_string(ref.size());
    return r;
  }
  return all_close(got.data(), ref.data(), int64_t(got.size()), atol, rtol);
}

// A process id that no longer runs: a child that exited and was reaped (for tests of what a
// killed process leaves behind).
inline pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

}  // namespace srgan::test

// CHECK_CLOSE(got_ptr_or_vec, ref..., atol, rtol): fails with the report as the message.
#define SRGAN_REQUIRE_CLOSE(report_expr)        \
  do {                                          \
    auto _rep = (report_expr);                  \
    INFO(_rep.message);                         \
    REQUIRE(_rep.ok);                           \
  } while (0)
