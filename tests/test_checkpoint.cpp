// safetensors and checkpoints: bit-exact round trips; truncated files, bad headers, bad offsets,
// unsupported dtypes, wrong shapes, missing and unexpected names all give one error naming the file
// and every offending name; atomic writes leave no temporary file and never clobber the old file.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>

#include "core/adam.h"
#include "core/check.h"
#include "core/param_arena.h"
#include "core/safetensors.h"
#include "data/atomic_file.h"
#include "models/checkpoint.h"
#include "models/srresnet.h"
#include "test_common.h"

using namespace srgan;
namespace fs = std::filesystem;

namespace {

// A fresh folder per test case, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("srgan_test_ckpt_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  int count_temp_files() const {
    int c = 0;
    for (auto& e : fs::directory_iterator(path))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) ++c;
    return c;
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A hand-made file: 8-byte length, the given JSON header, then `data_bytes` zero bytes.
std::string craft(const std::string& header, size_t data_bytes) {
  std::string s(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) s[i] = char((n >> (8 * i)) & 0xff);
  return s + header + std::string(data_bytes, '\0');
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor ha = a.to(Device::cpu), hb = b.to(Device::cpu);
  return std::memcmp(ha.raw(), hb.raw(), ha.nbytes()) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// safetensors
// ---------------------------------------------------------------------------------------------

TEST_CASE("safetensors round trip is bit-exact, keeps order and metadata", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("a.safetensors");
  Rng rng(1);
  Tensor f = normal_tensor({3, 4, 5, 2}, rng, 1.0);
  Tensor d = normal_tensor({7}, rng, 1e-30, DType::f64);  // tiny doubles: any rounding would show
  Tensor s = Tensor::scalar(-0.0);
  Tensor e = Tensor::zeros({0, 3});
  std::vector<float> special = {1e-45f, -3.4e38f, 3.4e38f, -1e-45f, 1.17549435e-38f};  // NaN/Inf: refused (below)
  Tensor sp = Tensor::from_vector(special, {5});
  Metadata meta = {{"arch", "test"}, {"note", "quotes \" and \\ and unicode \xc3\xa9"}};
  save_safetensors(path, {{"zeta", f}, {"alpha.d", d}, {"s", s}, {"empty", e}, {"special", sp}}, meta);
  CHECK(dir.count_temp_files() == 0);

  std::string bytes = read_all(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  CHECK((8 + n) % 8 == 0);  // data buffer aligned
  CHECK(bytes[8] == '{');
  CHECK(contains(bytes.substr(8, n), "\"dtype\":\"F64\""));

  SafeTensors back = load_safetensors(path);
  REQUIRE(back.tensors.size() == 5);
  CHECK(back.tensors[0].first == "zeta");  // file order, not alphabetical
  CHECK(back.tensors[1].first == "alpha.d");
  CHECK(same_bits(back.find("zeta"), f));
  CHECK(same_bits(back.find("alpha.d"), d));
  CHECK(same_bits(back.find("s"), s));
  CHECK(std::signbit(back.find("s").item()));
  CHECK(back.find("empty").shape() == Shape{0, 3});
  CHECK(same_bits(back.find("special"), sp));
  CHECK(back.metadata == meta);
  CHECK_FALSE(back.find("nope").defined());

  // no metadata: no __metadata__ entry, and still loads
  save_safetensors(path, {{"x", f}});
  CHECK_FALSE(contains(read_all(path), "__metadata__"));
  CHECK(load_safetensors(path).metadata.empty());
}

TEST_CASE("safetensors refuses bad names before writing", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("b.safetensors");
  Tensor t = Tensor::zeros({2});
  std::string e = error_of([&] { save_safetensors(path, {{"x", t}, {"x", t}}); });
  CHECK(contains(e, path));
  CHECK(contains(e, "'x' appears twice"));
  CHECK(contains(error_of([&] { save_safetensors(path, {{"__metadata__", t}}); }), "reserved"));
  CHECK(contains(error_of([&] { save_safetensors(path, {{"u", Tensor()}}); }), "'u' is undefined"));
  CHECK_FALSE(fs::exists(path));
  CHECK(dir.count_temp_files() == 0);
}

TEST_CASE("safetensors read errors name the file and the problem", "[checkpoint]") {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  Rng rng(2);
  save_safetensors(good, {{"w", normal_tensor({4, 4}, rng, 1.0)}, {"b", normal_tensor({4}, rng, 1.0)}});
  const std::string bytes = read_all(good);
  const std::string bad = dir.file("bad.safetensors");

  SECTION("missing file") {
    std::string e = error_of([&] { load_safetensors(dir.file("absent.safetensors")); });
    CHECK(contains(e, "absent.safetensors"));
    CHECK(contains(e, "cannot open"));
  }
  SECTION("truncated in the data") {
    write_all(bad, bytes.substr(0, bytes.size() - 3));
    std::string e = error_of([&] { load_safetensors(bad); });
    CHECK(contains(e, bad));
    CHECK(contains(e, "truncated"));
    CHECK(contains(e, "'b'"));  // the last tensor is the one cut short
  }
  SECTION("truncated in the header") {
    write_all(bad, bytes.substr(0, 20));
    std::string e = error_of([&] { load_safetensors(bad); });
    CHECK(contains(e, bad));
    CHECK(contains(e, "truncated"));
  }
  SECTION("shorter than the length field") {
    write_all(bad, bytes.substr(0, 5));
    CHECK(contains(error_of([&] { load_safetensors(bad); }), "truncated"));
  }
  SECTION("header that is not JSON") {
    write_all(bad, craft("{\"w\": {\"dtype\": \"F32\", ", 0));
    std::string e = error_of([&] { load_safetensors(bad); });
    CHECK(contains(e, bad));
    CHECK(contains(e, "bad header"));
  }
  SECTION("header that is not an object") {
    write_all(bad, craft("[1, 2]", 0));
    CHECK(contains(error_of([&] { load_safetensors(bad); }), "not an object"));
  }
  SECTION("entry without data_offsets") {
    write_all(bad, craft(R"({"w": {"dtype": "F32", "shape": [2]}})", 8));
    std::string e = error_of([&] { load_safetensors(bad); });
    CHECK(contains(e, "'w'"));
    CHECK(contains(e, "data_offsets"));
  }
  SECTION("offsets out of range") {
    write_all(bad, craft(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}})", 8));
    std::string e = error_of([&] { load_safetensors(bad); });
    CHECK(contains(e, bad));
    CHECK(contains(e, "out of range"));
    CHECK(contains(e, "'w'"));
  }
  SECTION("offsets that do not match the shape") {
    write_all(bad, craft(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8));
    std::string e = error_of([&] { load_safetensors(bad); });
    CHECK(contains(e, "'w'"));
    CHECK(contains(e, "needs 12"));
  }
  SECTION("overlapping tensors") {
    write_all(bad, craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                             "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12));
    std::string e = error_of([&] { load_safetensors(bad); });
    CHECK(contains(e, "overlap"));
  }
  SECTION("unsupported dtype") {
    write_all(bad, craft(R"({"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})", 4));
    std::string e = error_of([&] { load_safetensors(bad); });
    CHECK(contains(e, bad));
    CHECK(contains(e, "unsupported dtype F16"));
    CHECK(contains(e, "'h'"));
  }
  SECTION("metadata that is not a string map") {
    write_all(bad, craft(R"({"__metadata__": {"step": 5}})", 0));
    CHECK(contains(error_of([&] { load_safetensors(bad); }), "'step' is not a string"));
  }
  SECTION("a shape whose byte count overflows 64 bits") {
    // 2^61 + 1 doubles wrap around to 8 bytes, 2^32 x 2^32 floats to 0 bytes, and a dimension of
    // 2^63 does not fit int64: each was accepted (and the element count overflowed, UBSan).
    for (const char* h : {R"({"x":{"dtype":"F64","shape":[2305843009213693953],"data_offsets":[0,8]}})",
                          R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
                          R"({"x":{"dtype":"F32","shape":[9223372036854775808,0],"data_offsets":[0,0]}})"}) {
      INFO(h);
      write_all(bad, craft(h, 8));
      std::string e = error_of([&] { load_safetensors(bad); });
      CHECK(contains(e, bad));
      CHECK(contains(e, "tensor 'x': shape ("));
      CHECK(contains(e, "needs 2^64 bytes or more"));
    }
  }
  SECTION("NaN and infinite values, named with their tensor") {
    Tensor w = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, NAN, 7, INFINITY}, {2, 4});
    Tensor d = Tensor::from_vector(std::vector<double>{1, -INFINITY}, {2});
    save_safetensors(bad, {{"ok", Tensor::zeros({3})}, {"w", w}});
    CHECK(error_of([&] { load_safetensors(bad); }) ==
          "safetensors file '" + bad + "': tensor 'w' holds 2 NaN or infinite values (the first at flat index 5)");
    save_safetensors(bad, {{"d", d}});
    CHECK(error_of([&] { load_safetensors(bad); }) ==
          "safetensors file '" + bad + "': tensor 'd' holds 1 NaN or infinite value (the first at flat index 1)");
  }
  SECTION("a file written by another tool with header padding and F64") {
    write_all(bad, craft(R"({"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}    )", 8));
    SafeTensors st = load_safetensors(bad);
    CHECK(st.find("x").dtype() == DType::f64);
    CHECK(st.find("x").item() == 0.0);
  }
}

TEST_CASE("an element count that overflows int64 is an error, not a wrapped number", "[checkpoint]") {
  // core/tensor.cpp multiplied the dimensions unchecked (UBSan: signed overflow).
  CHECK(shape_numel({int64_t(1) << 31, int64_t(1) << 31}) == int64_t(1) << 62);
  CHECK(contains(error_of([] { shape_numel({int64_t(1) << 32, int64_t(1) << 32}); }), "more than 2^63 elements"));
  CHECK(contains(error_of([] { Tensor::empty({int64_t(1) << 61, 2}); }), "needs more than 2^63 bytes"));
}

// ---------------------------------------------------------------------------------------------
// Atomic writes
// ---------------------------------------------------------------------------------------------

TEST_CASE("atomic write leaves no temporary file and keeps the old file on failure", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  Tensor t = Tensor::full({16}, 3.0);
  save_safetensors(path, {{"t", t}}, {{"version", "old"}});
  const std::string before = read_all(path);

  // the producer fails half-way: the old file stays intact and the temporary file is gone
  std::string e = error_of([&] {
    data::AtomicFile file(path);
    file.write("partial data", 12);
    throw Error("disk full (simulated)");  // before commit()
  });
  CHECK(contains(e, "simulated"));
  CHECK(read_all(path) == before);
  CHECK(dir.count_temp_files() == 0);

  // a save refused before writing leaves it too
  CHECK_FALSE(error_of([&] { save_safetensors(path, {{"t", Tensor()}}); }).empty());
  CHECK(read_all(path) == before);
  CHECK(load_safetensors(path).metadata.at("version") == "old");

  // a folder that does not exist: the error names the file
  const std::string nowhere = dir.file("no/such/folder/x.safetensors");
  e = error_of([&] { save_safetensors(nowhere, {{"t", t}}); });
  CHECK(contains(e, nowhere));

  // a successful overwrite replaces the contents, again without leftovers
  save_safetensors(path, {{"t", t}}, {{"version", "new"}});
  CHECK(load_safetensors(path).metadata.at("version") == "new");
  CHECK(dir.count_temp_files() == 0);
  int files = 0;
  for (auto& f : fs::directory_iterator(dir.path)) files += int(f.is_regular_file());
  CHECK(files == 1);
}

// ---------------------------------------------------------------------------------------------
// Module checkpoints
// ---------------------------------------------------------------------------------------------

TEST_CASE("module save/load round trip restores parameters and buffers exactly", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("g.safetensors");
  Rng r1(10), r2(20);
  SRResNet a({2, 4}, r1), b({2, 4}, r2);
  a.train();
  { a(uniform_tensor({2, 4, 4, 3}, r1, 0, 1)); }  // moves a's running statistics away from 0/1
  save_module(path, a, srresnet_metadata(a.config()));
  // b's parameters live in an arena: loading must write through the views
  ParamArena arena;
  arena.adopt(b.parameters(), Device::cpu);
  LoadReport rep = load_module(path, b);
  CHECK(rep.missing.empty());
  CHECK(rep.unexpected.empty());
  CHECK(rep.loaded.size() == a.named_parameters().size() + a.named_buffers().size());
  CHECK(rep.metadata.at("arch") == "srresnet");
  auto sa = module_state(a), sb = module_state(b);
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].first);
    CHECK(sa[i].first == sb[i].first);
    CHECK(same_bits(sa[i].second, sb[i].second));
  }
  // the arena holds the loaded values (the parameters are still its views)
  std::vector<float> flat;
  for (auto& p : a.parameters()) {
    auto v = p.to_vector();
    flat.insert(flat.end(), v.begin(), v.end());
  }
  CHECK(arena.values().to_vector() == flat);
}

TEST_CASE("a mismatched checkpoint lists every missing, unexpected and mis-shaped name", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("other.safetensors");
  Rng rng(3);
  SRResNet g({2, 4}, rng);
  TensorList state = module_state(g);
  // drop two entries, add two strangers, reshape one
  TensorList edited;
  for (auto& [n, t] : state) {
    if (n == "body.1.c2.bias" || n == "mid.1.running_var") continue;
    if (n == "tail.weight") {
      edited.emplace_back(n, Tensor::zeros({3, 9, 9, 5}));
      continue;
    }
    edited.emplace_back(n, t);
  }
  edited.emplace_back("extra.weight", Tensor::zeros({2}));
  edited.emplace_back("body.7.c1.weight", Tensor::zeros({4, 3, 3, 4}));
  save_tensors(path, edited);

  SRResNet target({2, 4}, rng);
  const auto before = module_state(target);
  std::vector<std::vector<float>> before_values;
  for (auto& [n, t] : before) before_values.push_back(t.to_vector());

  std::string e = error_of([&] { load_module(path, target, true); });
  INFO(e);
  CHECK(contains(e, path));
  CHECK(contains(e, "missing 2: body.1.c2.bias, mid.1.running_var"));
  CHECK(contains(e, "unexpected 2: extra.weight, body.7.c1.weight"));
  CHECK(contains(e, "wrong shape 1: tail.weight (file (3, 9, 9, 5), model (3, 9, 9, 4))"));
  // nothing was modified by the failed load
  for (size_t i = 0; i < before.size(); ++i) CHECK(before[i].second.to_vector() == before_values[i]);

  // not strict: missing/unexpected are reported, a wrong shape is still an error
  e = error_of([&] { load_module(path, target, false); });
  CHECK(contains(e, "wrong shape 1: tail.weight"));
  CHECK(contains(e, "non-strict"));

  // not strict without shape problems: loads the rest and reports the differences
  edited.erase(std::remove_if(edited.begin(), edited.end(), [](auto& p) { return p.first == "tail.weight"; }),
               edited.end());
  save_tensors(path, edited);
  LoadReport rep = load_module(path, target, false);
  CHECK(rep.missing == std::vector<std::string>{"body.1.c2.bias", "tail.weight", "mid.1.running_var"});  // parameters, then buffers
  CHECK(rep.unexpected == std::vector<std::string>{"extra.weight", "body.7.c1.weight"});
  CHECK(rep.loaded.size() == state.size() - 3);
}

TEST_CASE("training checkpoint: modules, optimizer moments and metadata in one file", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("last.safetensors");
  Rng rng(4);
  SRResNet g({1, 4}, rng);
  ParamArena arena;
  arena.adopt(g.parameters(), Device::cpu);
  Adam adam(arena, 1e-3);
  // one real step so the moments are not zero
  for (auto& p : g.parameters()) {
    Tensor gr = p.grad();
    gr.copy_from(normal_tensor(p.shape(), rng, 1.0));
  }
  adam.step();

  auto state_of = [](SRResNet& m, Adam& opt) {
    TensorList s = module_state(m, "G.");
    s.emplace_back("opt.G.exp_avg", opt.exp_avg());
    s.emplace_back("opt.G.exp_avg_sq", opt.exp_avg_sq());
    return s;
  };
  Metadata meta = srresnet_metadata(g.config());
  meta["step"] = std::to_string(adam.steps_taken());
  meta["rng"] = std::to_string(rng.state());
  save_tensors(path, state_of(g, adam), meta);

  Rng rng2(99);
  SRResNet g2({1, 4}, rng2);
  ParamArena arena2;
  arena2.adopt(g2.parameters(), Device::cpu);
  Adam adam2(arena2, 1e-3);
  adam2.step();  // allocate its moments (zero gradients)
  LoadReport rep = load_tensors(path, state_of(g2, adam2), true);
  adam2.set_steps_taken(std::stoll(rep.metadata.at("step")));
  CHECK(adam2.steps_taken() == 1);
  CHECK(std::stoull(rep.metadata.at("rng")) == rng.state());
  CHECK(same_bits(arena.values(), arena2.values()));
  CHECK(same_bits(adam.exp_avg(), adam2.exp_avg()));
  CHECK(same_bits(adam.exp_avg_sq(), adam2.exp_avg_sq()));
  // the same file does not load as a bare generator (prefixed names): every name is reported
  std::string e = error_of([&] { load_module(path, g2, true); });
  CHECK(contains(e, "missing"));
  CHECK(contains(e, "opt.G.exp_avg"));
}
