// SASS parsing, instruction classes, main-loop detection and sm_90 occupancy for
// `srgan bench counters` (see bench_counters_sass.h).
#include "tools/cli/bench_counters_sass.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace srgan::app {

const char* sass_class_name(SassClass c) {
  switch (c) {
    case SassClass::mma: return "mma";
    case SassClass::ffma: return "ffma";
    case SassClass::fp32: return "fp32_other";
    case SassClass::lds: return "lds";
    case SassClass::ldsm: return "ldsm";
    case SassClass::sts: return "sts";
    case SassClass::ldg: return "ldg";
    case SassClass::stg: return "stg";
    case SassClass::ldgsts: return "ldgsts";
    case SassClass::local: return "local";
    case SassClass::integer: return "integer";
    case SassClass::conv: return "conversion";
    case SassClass::barrier: return "barrier";
    case SassClass::control: return "control";
    case SassClass::other: return "other";
    case SassClass::count_: break;
  }
  return "?";
}

namespace {

std::string base_of(const std::string& op) { return op.substr(0, op.find('.')); }

bool one_of(const std::string& b, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (b == n) return true;
  return false;
}

}  // namespace

SassClass classify_sass(const std::string& opcode) {
  const std::string b = base_of(opcode);
  if (one_of(b, {"HMMA", "HGMMA", "IMMA", "DMMA", "QGMMA", "IGMMA", "BGMMA"})) return SassClass::mma;
  if (b == "FFMA") return SassClass::ffma;
  if (one_of(b, {"FADD", "FMUL", "FSETP", "FSEL", "FMNMX", "MUFU", "FCHK", "FSWZADD"})) return SassClass::fp32;
  if (b == "LDS") return SassClass::lds;
  if (b == "LDSM") return SassClass::ldsm;
  if (b == "STS") return SassClass::sts;
  if (b == "LDG") return SassClass::ldg;
  if (b == "STG") return SassClass::stg;
  if (b == "LDGSTS") return SassClass::ldgsts;
  if (one_of(b, {"LDL", "STL"})) return SassClass::local;
  if (one_of(b, {"F2F", "F2FP", "I2F", "F2I", "FRND", "I2FP", "F2IP", "I2I", "I2IP"})) return SassClass::conv;
  if (one_of(b, {"BAR", "DEPBAR", "LDGDEPBAR", "MEMBAR", "SYNCS", "ERRBAR", "CCTL"})) return SassClass::barrier;
  if (one_of(b, {"BRA", "BRX", "BRXU", "BSSY", "BSYNC", "EXIT", "CALL", "RET", "JMP", "JMX", "NOP", "YIELD",
                 "WARPSYNC", "BMOV", "KILL", "BPT"}))
    return SassClass::control;
  if (one_of(b, {"IMAD", "IADD3", "IADD", "VIADD", "VIADDMNMX", "IABS", "LEA", "SHF", "SHL", "SHR", "LOP3", "LOP",
                 "ISETP", "IMNMX", "VIMNMX", "SEL", "PRMT", "POPC", "FLO", "BMSK", "BREV", "IDP", "IMUL", "ISCADD",
                 "PLOP3", "P2R", "R2P", "IMUL32I", "IADD32I", "LOP32I"}))
    return SassClass::integer;
  if (b.size() > 1 && b[0] == 'U' && b != "ULDC") return SassClass::integer;  // uniform datapath: UIADD3, ULEA, ...
  return SassClass::other;
}

double sass_macs(const std::string& opcode) {
  const std::string b = base_of(opcode);
  if (b == "FFMA") return 32;
  const size_t dot = opcode.find('.');
  if (dot == std::string::npos) return 0;
  const std::string s = opcode.substr(dot + 1, opcode.find('.', dot + 1) - dot - 1);
  if (b == "HGMMA") {
    // HGMMA.<m>x<n>x<k>: a warpgroup's m x n x k, issued by each of its 4 warps (a quarter each).
    int m = 0, n = 0, k = 0;
    if (std::sscanf(s.c_str(), "%dx%dx%d", &m, &n, &k) != 3) return 0;
    return double(m) * n * k / 4;
  }
  if (b != "HMMA" && b != "IMMA" && b != "DMMA") return 0;
  // HMMA.<m><n><k>: 1688 = 16x8x8, 16816 = 16x8x16, 16832 = 16x8x32, 884 = 8x8x4.
  if (s == "1688") return 16 * 8 * 8;
  if (s == "16816") return 16 * 8 * 16;
  if (s == "16832") return 16 * 8 * 32;
  if (s == "884") return 8 * 8 * 4;
  return 0;
}

namespace {

struct Instr {
  uint32_t addr;
  std::string opcode;
  int64_t target = -1;  // BRA target
};

void add_to(SassMix& m, const Instr& in) {
  ++m.instructions;
  ++m.by_class[int(classify_sass(in.opcode))];
  if (base_of(in.opcode) == "BAR") ++m.bar_sync;
  m.macs += sass_macs(in.opcode);
}

// "/*0a30*/   @!P0 BRA 0x7f0 ;" -> Instr; false for other lines.
bool parse_line(const std::string& line, Instr& out) {
  const size_t a = line.find("/*");
  if (a == std::string::npos) return false;
  const size_t e = line.find("*/", a + 2);
  if (e == std::string::npos || e - a - 2 < 4) return false;
  const std::string hex = line.substr(a + 2, e - a - 2);
  if (hex.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
  const size_t semi = line.find(';', e);
  if (semi == std::string::npos) return false;
  std::istringstream is(line.substr(e + 2, semi - e - 2));
  std::string tok;
  if (!(is >> tok)) return false;
  if (tok[0] == '@') {
    if (!(is >> tok)) return false;
  }
  out.addr = uint32_t(std::strtoul(hex.c_str(), nullptr, 16));
  out.opcode = tok;
  out.target = -1;
  if (base_of(tok) == "BRA") {
    std::string t;
    while (is >> t)
      if (t.rfind("0x", 0) == 0) out.target = int64_t(std::strtoull(t.c_str(), nullptr, 16));
  }
  return true;
}

void finish(SassKernel& k, const std::vector<Instr>& code) {
  for (const Instr& in : code) add_to(k.whole, in);
  struct Loop { size_t first, last; };
  std::vector<Loop> loops;
  for (size_t i = 0; i < code.size(); ++i)
    if (code[i].target >= 0 && code[i].target <= int64_t(code[i].addr)) {
      size_t f = i;
      while (f > 0 && int64_t(code[f - 1].addr) >= code[i].target) --f;
      loops.push_back({f, i});
    }
  auto holds = [&](const Loop& l, auto pred) {
    for (size_t i = l.first; i <= l.last; ++i)
      if (pred(classify_sass(code[i].opcode))) return true;
    return false;
  };
  const std::pair<const char*, bool (*)(SassClass)> markers[] = {
      {"mma", [](SassClass c) { return c == SassClass::mma; }},
      {"ffma", [](SassClass c) { return c == SassClass::ffma; }},
      {"global", [](SassClass c) { return c == SassClass::ldg || c == SassClass::stg || c == SassClass::ldgsts; }}};
  for (const auto& [name, pred] : markers) {
    const Loop* best = nullptr;
    for (const Loop& l : loops)
      if (holds(l, pred) && (!best || l.last - l.first < best->last - best->first)) best = &l;
    if (!best) continue;
    k.has_loop = true;
    k.loop_marker = name;
    k.loop_begin = code[best->first].addr;
    k.loop_end = code[best->last].addr;
    for (size_t i = best->first; i <= best->last; ++i) add_to(k.loop, code[i]);
    return;
  }
}

// " REG:88 STACK:0 SHARED:39936 LOCAL:0 ..." -> the named value, -1 when absent.
int res_field(const std::string& line, const char* key) {
  const size_t p = line.find(std::string(" ") + key + ":");
  if (p == std::string::npos) return -1;
  return std::atoi(line.c_str() + p + std::char_traits<char>::length(key) + 2);
}

}  // namespace

std::map<std::string, SassKernel> parse_sass(const std::string& sass, const std::string& res_usage) {
  std::map<std::string, SassKernel> out;
  std::istringstream is(sass);
  std::string line, name;
  std::vector<Instr> code;
  bool keep = false;
  auto close = [&] {
    if (keep && !name.empty()) finish(out[name], code);
    code.clear();
    keep = false;
  };
  while (std::getline(is, line)) {
    const size_t f = line.find("Function : ");
    if (f != std::string::npos) {
      close();
      std::istringstream ns(line.substr(f + 11));
      ns >> name;
      keep = out.find(name) == out.end();
      if (keep) out[name].mangled = name;
      continue;
    }
    Instr in;
    if (keep && parse_line(line, in)) code.push_back(in);
  }
  close();
  std::istringstream rs(res_usage);
  std::string fn;
  while (std::getline(rs, line)) {
    const size_t f = line.find("Function ");
    if (f != std::string::npos) {
      fn = line.substr(f + 9);
      while (!fn.empty() && (fn.back() == ':' || fn.back() == ' ' || fn.back() == '\r')) fn.pop_back();
      continue;
    }
    if (fn.empty() || line.find("REG:") == std::string::npos) continue;
    SassKernel& k = out[fn];
    if (k.mangled.empty()) k.mangled = fn;
    if (k.regs < 0) {
      k.regs = res_field(line, "REG");
      k.stack = res_field(line, "STACK");
      k.shared_static = res_field(line, "SHARED");
      k.local = res_field(line, "LOCAL");
    }
    fn.clear();
  }
  return out;
}

Occupancy sm90_occupancy(int threads_per_block, int regs_per_thread, int smem_per_block) {
  constexpr int kMaxWarps = 64, kMaxBlocks = 32, kRegs = 65536, kRegUnit = 256, kSmem = 228 * 1024,
                kSmemReserved = 1024, kSmemUnit = 128, kMaxSmemBlock = 227 * 1024;
  Occupancy o;
  const int warps = (threads_per_block + 31) / 32;
  if (warps < 1 || warps > 32 || smem_per_block > kMaxSmemBlock || regs_per_thread > 255) return o;
  int best = kMaxBlocks;
  o.limit = "blocks";
  auto limit = [&](int n, const char* why) {
    if (n < best) best = n, o.limit = why;
  };
  limit(kMaxWarps / warps, "warps");
  if (regs_per_thread > 0) {
    const int per_warp = (regs_per_thread * 32 + kRegUnit - 1) / kRegUnit * kRegUnit;
    limit(kRegs / per_warp / warps, "registers");
  }
  const int smem = (std::max(smem_per_block, 0) + kSmemReserved + kSmemUnit - 1) / kSmemUnit * kSmemUnit;
  limit(kSmem / smem, "shared memory");
  o.blocks_per_sm = std::max(best, 0);
  o.occupancy = double(o.blocks_per_sm * warps) / kMaxWarps;
  return o;
}

}  // namespace srgan::app
