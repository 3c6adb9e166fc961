// Build tool of the CUDA emulator: rewrites every launch of a CUDA source into C++ that the host
// compiler accepts, keeping the kernel call itself so template arguments are still deduced from
// the launch's arguments:
//   kernel<T><<<grid, block, smem, stream>>>(a, b);
//   ->  ::srgan::emu::LaunchConfig(grid, block, smem, stream).run("kernel<T>",
//           [](auto... emu_arg) { kernel<T>(emu_arg...); }, a, b);
// The arguments are evaluated and copied when the launch is issued, as CUDA does: the launch may
// run later (stream work is deferred, a graph replays it), and a lambda capturing `[=]` would
// read a member argument such as `p` through `this` only then, after the object may have moved.
// It also follows every `__shared__` declaration with a call that poisons the variable (all bytes
// 0xFF: NaN as a float, -1 as an integer) the first time a block reaches it, so a block that reads
// shared memory it has not written gets NaN rather than what the previous block left there:
//   __shared__ float tile[2][64];  ->  __shared__ float tile[2][64]; ::srgan::emu::fresh_shared(tile);
// (on the same line, so line numbers stay those of the original). A dynamic shared-memory array
//   extern __shared__ __align__(16) float smem[];  ->  float* smem = static_cast<float*>(::srgan::emu::dynamic_shared());
// and every kernel definition starts with a tag naming it (its mangled name, for the counters and
// the dynamic shared-memory check; see cuda_emu.h):
//   __global__ void k(...) {  ->  __global__ void k(...) { struct EmuKernelTag {}; ::srgan::emu::kernel_entry(typeid(EmuKernelTag).name());
// Usage: rewrite_launches IN OUT. Fails (naming the file and line) on a launch or a `__shared__`
// declaration it cannot parse.
#include <cctype>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

int line_of(const std::string& s, size_t pos) {
  int line = 1;
  for (size_t i = 0; i < pos && i < s.size(); ++i) line += s[i] == '\n';
  return line;
}

bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
}

// Start of the kernel expression that ends right before `end` (a name, optionally qualified,
// optionally followed by a template argument list).
size_t kernel_start(const std::string& s, size_t end) {
  size_t i = end;
  while (i > 0 && std::isspace(static_cast<unsigned char>(s[i - 1]))) --i;
  if (i > 0 && s[i - 1] == '>') {  // template arguments: walk back to the matching '<'
    int depth = 0;
    do {
      --i;
      if (s[i] == '>') ++depth;
      else if (s[i] == '<') --depth;
    } while (i > 0 && depth > 0);
    if (depth != 0) throw std::runtime_error("unbalanced template arguments");
    while (i > 0 && std::isspace(static_cast<unsigned char>(s[i - 1]))) --i;
  }
  const size_t name_end = i;
  while (i > 0 && ident_char(s[i - 1])) --i;
  if (i == name_end) throw std::runtime_error("no kernel name before <<<");
  return i;
}

// Position one past the ')' matching the '(' at `open`.
size_t call_end(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '(') ++depth;
    else if (s[i] == ')' && --depth == 0) return i + 1;
  }
  throw std::runtime_error("unbalanced parentheses in the launch's arguments");
}

std::string rewrite(const std::string& in) {
  std::string s = in;
  size_t from = 0;
  for (;;) {
    const size_t open = s.find("<<<", from);
    if (open == std::string::npos) break;
    try {
      const size_t close = s.find(">>>", open);
      if (close == std::string::npos) throw std::runtime_error("<<< without >>>");
      const size_t k0 = kernel_start(s, open);
      size_t p = close + 3;
      while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
      if (p >= s.size() || s[p] != '(') throw std::runtime_error("no argument list after >>>");
      const size_t end = call_end(s, p);
      std::string kernel = s.substr(k0, open - k0);
      while (!kernel.empty() && std::isspace(static_cast<unsigned char>(kernel.back()))) kernel.pop_back();
      std::string name;
      for (char c : kernel) name += (c == '\n' ? ' ' : c);
      const std::string cfg = s.substr(open + 3, close - open - 3);
      std::string args = s.substr(p + 1, end - p - 2);  // without the parentheses
      if (args.find_first_not_of(" \t\r\n") != std::string::npos) args = ", " + args;
      else args.clear();
      const std::string out = "::srgan::emu::LaunchConfig(" + cfg + ").run(\"" + name +
                              "\", [](auto... emu_arg) { " + kernel + "(emu_arg...); }" + args + ")";
      s.replace(k0, end - k0, out);
      from = k0 + out.size();
    } catch (const std::exception& e) {
      throw std::runtime_error("line " + std::to_string(line_of(s, open)) + ": " + e.what());
    }
  }
  return s;
}

// `extern __shared__ [__align__(n)] T name[];` (starting its line) -> a pointer to the launch's
// dynamic shared memory.
std::string dynamic_shared(const std::string& in) {
  static const std::string kw = "extern __shared__";
  std::string s = in;
  size_t from = 0;
  for (;;) {
    const size_t at = s.find(kw, from);
    if (at == std::string::npos) break;
    const size_t bol = s.rfind('\n', at) == std::string::npos ? 0 : s.rfind('\n', at) + 1;
    const std::string before = s.substr(bol, at - bol);
    from = at + kw.size();
    if (before.find("//") != std::string::npos) continue;
    const size_t semi = s.find(';', at);
    const size_t br = s.find("[]", at);
    if (semi == std::string::npos || br == std::string::npos || br > semi || s.find('\n', at) < semi)
      throw std::runtime_error("line " + std::to_string(line_of(s, at)) +
                               ": extern __shared__ must be `extern __shared__ [__align__(n)] T name[];` on one line");
    std::string decl = s.substr(at + kw.size(), br - at - kw.size());  // " __align__(16) float smem"
    const size_t al = decl.find("__align__");
    if (al != std::string::npos) decl.erase(al, decl.find(')', al) + 1 - al);
    size_t e = decl.size();
    while (e > 0 && std::isspace(static_cast<unsigned char>(decl[e - 1]))) --e;
    size_t b = e;
    while (b > 0 && ident_char(decl[b - 1]) && decl[b - 1] != ':') --b;
    const std::string name = decl.substr(b, e - b);
    std::string type = decl.substr(0, b);
    type.erase(0, type.find_first_not_of(" \t"));
    while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.pop_back();
    if (name.empty() || type.empty())
      throw std::runtime_error("line " + std::to_string(line_of(s, at)) + ": no type or name in extern __shared__");
    const std::string out = type + "* " + name + " = static_cast<" + type + "*>(::srgan::emu::dynamic_shared());";
    s.replace(at, semi + 1 - at, out);
    from = at + out.size();
  }
  return s;
}

// After the opening brace of every `__global__` function definition: the tag that names it.
std::string tag_kernels(const std::string& in) {
  static const std::string kw = "__global__";
  static const std::string tag =
      " struct EmuKernelTag {}; ::srgan::emu::kernel_entry(typeid(EmuKernelTag).name());";
  std::string s = in;
  size_t from = 0;
  for (;;) {
    const size_t at = s.find(kw, from);
    if (at == std::string::npos) break;
    from = at + kw.size();
    const size_t bol = s.rfind('\n', at) == std::string::npos ? 0 : s.rfind('\n', at) + 1;
    if (s.substr(bol, at - bol).find("//") != std::string::npos) continue;
    try {
      // The parameter list: the first '(' not opening __launch_bounds__(...).
      size_t p = from;
      for (;;) {
        p = s.find('(', p);
        if (p == std::string::npos) throw std::runtime_error("__global__ without a parameter list");
        size_t n = p;
        while (n > 0 && std::isspace(static_cast<unsigned char>(s[n - 1]))) --n;
        if (n >= 17 && s.compare(n - 17, 17, "__launch_bounds__") == 0) {
          p = call_end(s, p);
          continue;
        }
        break;
      }
      size_t q = call_end(s, p);
      while (q < s.size() && std::isspace(static_cast<unsigned char>(s[q]))) ++q;
      if (q >= s.size() || s[q] != '{') continue;  // a declaration
      s.insert(q + 1, tag);
      from = q + 1 + tag.size();
    } catch (const std::exception& e) {
      throw std::runtime_error("line " + std::to_string(line_of(s, at)) + ": " + e.what());
    }
  }
  return s;
}

// Adds ::srgan::emu::fresh_shared(name); after each `__shared__ ... name[...];` declaration that
// starts its line; a `__shared__` after `//` on its line is a comment and left alone.
std::string poison_shared(const std::string& in) {
  static const std::string kw = "__shared__";
  std::string s = in;
  size_t from = 0;
  for (;;) {
    const size_t at = s.find(kw, from);
    if (at == std::string::npos) break;
    from = at + kw.size();
    const size_t bol = s.rfind('\n', at) == std::string::npos ? 0 : s.rfind('\n', at) + 1;
    const std::string before = s.substr(bol, at - bol);
    if (before.find("//") != std::string::npos) continue;
    if (before.find_first_not_of(" \t") != std::string::npos)
      throw std::runtime_error("line " + std::to_string(line_of(s, at)) +
                               ": __shared__ must start its line (extern/dynamic shared memory is not emulated)");
    const size_t semi = s.find(';', at);
    if (semi == std::string::npos || s.find('\n', at) < semi)
      throw std::runtime_error("line " + std::to_string(line_of(s, at)) + ": __shared__ declaration not on one line");
    const std::string decl = s.substr(at, std::min(semi, s.find('[', at)) - at);
    size_t e = decl.size();
    while (e > 0 && std::isspace(static_cast<unsigned char>(decl[e - 1]))) --e;
    size_t b = e;
    while (b > 0 && ident_char(decl[b - 1]) && decl[b - 1] != ':') --b;
    const std::string name = decl.substr(b, e - b);
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
      throw std::runtime_error("line " + std::to_string(line_of(s, at)) + ": no variable name in __shared__ declaration");
    const std::string call = " ::srgan::emu::fresh_shared(" + name + ");";
    s.insert(semi + 1, call);
    from = semi + 1 + call.size();
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: rewrite_launches IN OUT\n");
    return 2;
  }
  std::ifstream f(argv[1], std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "rewrite_launches: cannot read %s\n", argv[1]);
    return 1;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string out;
  try {
    out = poison_shared(dynamic_shared(tag_kernels(rewrite(ss.str()))));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[1], e.what());
    return 1;
  }
  const std::string tmp = std::string(argv[2]) + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary);
    o << "#line 1 \"" << argv[1] << "\"\n" << out;
    if (!o) {
      std::fprintf(stderr, "rewrite_launches: cannot write %s\n", tmp.c_str());
      return 1;
    }
  }
  if (std::rename(tmp.c_str(), argv[2]) != 0) {
    std::fprintf(stderr, "rewrite_launches: cannot rename %s to %s\n", tmp.c_str(), argv[2]);
    return 1;
  }
  return 0;
}
