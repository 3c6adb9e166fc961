// `srgan upscale` on the CPU with a small random-weight generator: tiled against untiled output,
// tile sizes that do not divide the image, 1x1 and one-pixel-thin images, gray / RGBA / 16-bit
// files keeping their format, bad inputs (missing, unreadable, unwritable output, a model of
// the wrong architecture) reported while the other images are still processed, and a failure
// half way through the streamed output leaving the previous output file untouched.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "data/atomic_file.h"
#include "data/image_io.h"
#include "data/resize.h"
#include "models/checkpoint.h"
#include "models/discriminator.h"
#include "tools/upscale/model_file.h"
#include "tools/upscale/tiled_upscaler.h"
#include "tools/upscale/upscale_files.h"
#include "tests/test_common.h"

namespace fs = std::filesystem;
using namespace srgan;
using namespace srgan::app;
using srgan::test::Contains;

namespace {
fs::path tmp(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("srgan_test_upscale_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// A small generator with non-trivial random weights (blocks 1, width 8); BN in eval mode.
std::unique_ptr<SRResNet> small_generator(uint64_t seed = 5) {
  Rng rng(seed);
  auto g = std::make_unique<SRResNet>(SRResNetConfig{1, 8}, rng);
  g->eval();
  return g;
}

data::ImageF random_rgb(int w, int h, uint64_t seed) {
  data::ImageF img(w, h, 3);
  auto v = srgan::test::random_vector<float>(img.size(), seed, 0.0, 1.0);
  img.data = v;
  return img;
}

std::vector<float> run_tiled(SRResNet& g, const data::ImageF& img, TileOptions opt) {
  std::vector<float> out(size_t(img.width) * 4 * img.height * 4 * 3, NAN);  // (4H, 4W, 3), poisoned
  int next_row = 0;
  upscale_tiled(g, img, opt, Device::cpu, [&](int y, const float* row) {
    REQUIRE(y == next_row++);  // rows arrive in order, each once
    std::copy(row, row + size_t(img.width) * 4 * 3, out.begin() + size_t(y) * img.width * 4 * 3);
  }, "test image");
  REQUIRE(next_row == img.height * 4);
  return out;
}
}  // namespace

TEST_CASE("tiled and untiled upscaling agree within the stated bound", "[upscale][tiles]") {
  auto g = small_generator();
  const data::ImageF img = random_rgb(37, 29, 1);
  const std::vector<float> whole = run_tiled(*g, img, {64, 0});  // one tile covers the image
  // Tile sizes that do not divide 37x29, and overlaps from none to wide.
  for (auto [tile, overlap] : std::vector<std::pair<int, int>>{{24, 20}, {24, 16}, {30, 24}, {16, 12}, {13, 10}, {10, 8}, {20, 4}}) {
    INFO("tile " << tile << " overlap " << overlap);
    const std::vector<float> tiled = run_tiled(*g, img, {tile, overlap});
    double max_diff = 0;
    for (size_t i = 0; i < whole.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(tiled[i] - whole[i])));
    INFO("max |tiled - untiled| = " << max_diff);
    // The generator sees ~10 LR pixels around each output (9x9 head and tail, 4 3x3 convs at
    // LR scale); tile borders zero-pad instead. The ramps give such border pixels little weight:
    // with an overlap of 8+ LR pixels the blended result stays within 1/255 of untiled output,
    // i.e. at most one level of an 8-bit image.
    // Bound: this generator sees ~10 LR pixels around each output (9x9 head and tail, four 3x3
    // convs at LR scale) and tile borders zero-pad instead. The blend drops overlap/4 pixels at
    // each inner tile border and cross-fades the middle half, so with overlap >= 20 (5+ dropped
    // pixels, beyond which the padding's influence has decayed) tiled output stays within one
    // 8-bit level of untiled output; smaller overlaps only have to stay close (< 0.05).
    if (overlap >= 20) REQUIRE(max_diff <= 1.0 / 255.0);
    else REQUIRE(max_diff < 0.05);
    REQUIRE(std::isfinite(max_diff));
  }
}

TEST_CASE("a band budget shortens and widens the tiles, and the output still matches", "[upscale][tiles][memory]") {
  // The plan for a wide image: the band of 256 * tile_h * W bytes fits the budget, the vertical
  // overlap is at most half a tile, and a shorter tile is wider by as much.
  TileOptions wide;  // 256 / 32, 512 MiB
  TilePlan p = plan_tiles(65536, 512, wide, "wide");
  CHECK(p.tile_h == 32);  // 512 MiB / (256 * 65536 bytes per LR row)
  CHECK(p.band_bytes <= wide.band_budget);
  CHECK(p.overlap_y == 16);
  CHECK(p.tile_w == 2048);
  CHECK(int64_t(p.tile_w) * p.tile_h == int64_t(wide.tile) * wide.tile);
  CHECK(plan_tiles(4000, 3000, wide, "photo").tile_h == 256);  // a photo keeps square tiles
  CHECK_THROWS_WITH(plan_tiles(262144, 1024, TileOptions{256, 32, int64_t(256) << 20}, "panorama"),
                    Contains("panorama") && Contains("262144 pixels wide") && Contains("--memory-mb"));

  // Upscaling under a budget that allows 16 LR rows of band: tiles of 16 x 36 (overlap 8) match
  // the untiled output as closely as square tiles with that overlap do (see the test above).
  auto g = small_generator();
  const data::ImageF img = random_rgb(37, 29, 11);
  const std::vector<float> whole = run_tiled(*g, img, {64, 0});
  TileOptions small{24, 16};
  small.band_budget = int64_t(256) * 16 * 37;
  REQUIRE(plan_tiles(37, 29, small, "small").tile_h == 16);
  REQUIRE(plan_tiles(37, 29, small, "small").tile_w == 36);
  const std::vector<float> tiled = run_tiled(*g, img, small);
  double max_diff = 0;
  for (size_t i = 0; i < whole.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(tiled[i] - whole[i])));
  INFO("max |tiled - untiled| = " << max_diff);
  CHECK(max_diff < 0.05);  // the bound the test above holds small overlaps to
}

TEST_CASE("1x1 and one-pixel-thin images upscale to 4x their size", "[upscale][tiles]") {
  auto g = small_generator();
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {1, 9}, {17, 1}, {2, 3}}) {
    INFO(w << "x" << h);
    std::vector<float> out = run_tiled(*g, random_rgb(w, h, 7), {4, 2});
    REQUIRE(out.size() == size_t(w) * h * 48);
    for (float v : out) REQUIRE((v >= 0.0f && v <= 1.0f));
  }
}

TEST_CASE("gray, gray+alpha, RGBA and 16-bit files keep their format through upscale", "[upscale][files]") {
  auto g = small_generator();
  fs::path dir = tmp("formats");
  auto pattern = [](int c, int x, int y) { return (x * 37 + y * 11 + c * 71) % 256; };
  for (int channels : {1, 2, 3, 4}) {
    data::Image im(9, 7, channels);
    for (int y = 0; y < 7; ++y)
      for (int x = 0; x < 9; ++x)
        for (int c = 0; c < channels; ++c) im.at(y, x, c) = uint8_t(pattern(c, x, y));
    data::write_png((dir / ("c" + std::to_string(channels) + ".png")).string(), im);
  }
  data::Image16 im16(6, 5, 3);
  for (size_t i = 0; i < im16.size(); ++i) im16.data[i] = uint16_t((i * 2654435761u) % 65536);
  data::write_png16((dir / "deep.png").string(), im16);

  // One tile, and 4-pixel tiles (several tiles and tile rows: the tile reader's offsets, and
  // alpha rows streamed band after band).
  for (const TileOptions topt : {TileOptions{256, 16}, TileOptions{4, 2}}) {
    INFO("tile " << topt.tile << ", overlap " << topt.overlap);
    const std::string out_name = "out" + std::to_string(topt.tile);
    auto jobs = plan_upscale_jobs({dir.string()}, (dir / out_name).string());
    REQUIRE(jobs.size() == 5);
    for (auto& j : jobs) upscale_file(*g, j, topt, Device::cpu, false);
    for (int channels : {1, 2, 3, 4}) {
      INFO(channels << " channels");
      const std::string out = (dir / out_name / ("c" + std::to_string(channels) + "_x4.png")).string();
      data::ImageInfo info = data::read_image_info(out);
      REQUIRE(info.channels == channels);
      REQUIRE(info.bits == 8);
      REQUIRE(info.width == 36);
      REQUIRE(info.height == 28);
      {  // the colour channels: as upscale_image gives them from the colour channels alone
        data::ReadOptions ro;
        ro.channels = data::ChannelMode::Stored;
        const data::Image in = data::read_image((dir / ("c" + std::to_string(channels) + ".png")).string(), ro);
        const data::Image res = data::read_image(out, ro);
        const int colour = channels == 2 || channels == 4 ? channels - 1 : channels;
        data::Image colour_in(in.width, in.height, colour);
        for (size_t i = 0; i < in.pixels(); ++i)
          for (int c = 0; c < colour; ++c) colour_in.data[i * colour + c] = in.data[i * channels + c];
        const data::Image want = upscale_image(*g, colour_in, topt, Device::cpu, "colour");
        int worst = 0;  // rounding in float (upscale_image) or in double (upscale_file): 1 level at most
        for (size_t i = 0; i < want.pixels(); ++i)
          for (int c = 0; c < colour; ++c)
            worst = std::max(worst, std::abs(int(res.data[i * channels + c]) - int(want.data[i * colour + c])));
        CHECK(worst <= 1);
      }
      if (channels == 2 || channels == 4) {  // alpha = MATLAB bicubic x4 of the input alpha
        data::ReadOptions ro;
        ro.channels = data::ChannelMode::Stored;
        data::Image in = data::read_image((dir / ("c" + std::to_string(channels) + ".png")).string(), ro);
        data::Image res = data::read_image(out, ro);
        data::ImageF a(9, 7, 1);
        for (size_t i = 0; i < a.size(); ++i) a.data[i] = float(in.data[i * channels + channels - 1]) / 255.0f;
        data::ImageF a4 = data::imresize_bicubic(a, 4.0);
        for (size_t i = 0; i < a4.size(); ++i) {
          const int want = int(std::floor(std::clamp(a4.data[i], 0.0f, 1.0f) * 255.0f + 0.5f));
          REQUIRE(std::abs(int(res.data[i * channels + channels - 1]) - want) <= 1);
        }
      }
    }
    data::ImageInfo deep = data::read_image_info((dir / out_name / "deep_x4.png").string());
    REQUIRE(deep.bits == 16);
    REQUIRE(deep.channels == 3);
    REQUIRE(deep.width == 24);
    {  // the 16-bit samples: upscale_tiled of the same floats, rounded to 16 bits
      data::ImageF f(6, 5, 3);
      for (size_t i = 0; i < f.size(); ++i) f.data[i] = float(im16.data[i]) / 65535.0f;
      std::vector<float> want;  // (20, 24, 3)
      upscale_tiled(*g, f, topt, Device::cpu, [&](int, const float* row) { want.insert(want.end(), row, row + 24 * 3); }, "deep");
      data::ReadOptions ro;
      ro.channels = data::ChannelMode::Stored;
      const data::Image16 got = data::read_image16((dir / out_name / "deep_x4.png").string(), ro);
      REQUIRE(got.size() == want.size());
      int worst = 0;
      for (size_t i = 0; i < want.size(); ++i)
        worst = std::max(worst, std::abs(int(got.data[i]) - int(std::floor(double(want[i]) * 65535.0 + 0.5))));
      CHECK(worst == 0);
    }
  }
}

TEST_CASE("bad inputs are reported by name and the other images are still processed", "[upscale][errors]") {
  auto g = small_generator();
  fs::path dir = tmp("bad");
  data::write_png((dir / "good.png").string(), data::Image(5, 4, 3, 128));
  { std::ofstream((dir / "text.png").string()) << "this is not an image"; }
  std::vector<UpscaleJob> jobs = plan_upscale_jobs(
      {(dir / "missing.png").string(), (dir / "text.png").string(), (dir / "good.png").string()}, (dir / "out").string());
  REQUIRE(jobs.size() == 3);
  REQUIRE_THROWS_WITH(upscale_file(*g, jobs[0], {}, Device::cpu, false), Contains("missing.png") && Contains("does not exist"));
  REQUIRE_THROWS_WITH(upscale_file(*g, jobs[1], {}, Device::cpu, false), Contains("text.png"));
  REQUIRE_NOTHROW(upscale_file(*g, jobs[2], {}, Device::cpu, false));
  REQUIRE(fs::exists(dir / "out" / "good_x4.png"));
  // An output path below a regular file cannot be written.
  UpscaleJob unwritable{(dir / "good.png").string(), (dir / "good.png" / "sub" / "x.png").string()};
  REQUIRE_THROWS_WITH(upscale_file(*g, unwritable, {}, Device::cpu, false), Contains("x.png"));
  REQUIRE_THROWS_WITH(plan_upscale_jobs({tmp("empty").string()}, (dir / "o2").string()), Contains("no image files"));
}

TEST_CASE("an upscale that fails half way leaves the old output untouched and no temporary file", "[upscale][errors]") {
  // The weights of the first and the last conv scaled by 1e30: from a black pixel only the
  // biases reach the tail (finite), from a white one 1e30 * 1e30 overflows to Inf. The image is
  // black above and white below, so the first tiles' rows are handed to the PNG encoder (which
  // here keeps them in its 256 KiB chunk; the temporary file holds the header) before a later
  // tile fails.
  auto g = small_generator();
  for (auto& [name, t] : g->named_parameters())
    if (name == "head.0.weight" || name == "tail.weight") {
      float* w = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) w[i] *= 1e30f;
    }
  fs::path dir = tmp("half");
  data::Image img(8, 32, 3, 0);  // (32, 8, 3): rows 0..15 black, 16..31 white
  for (int y = 16; y < 32; ++y)
    for (int x = 0; x < 8; ++x)
      for (int c = 0; c < 3; ++c) img.at(y, x, c) = 255;
  data::write_png((dir / "in.png").string(), img);
  const std::string out = (dir / "out.png").string();
  data::write_file_atomic(out, std::string("the previous output"));
  int rows_before_failure = 0;  // how far the same image gets through upscale_tiled alone
  {
    data::ImageF f(8, 32, 3);
    for (size_t i = 0; i < f.size(); ++i) f.data[i] = float(img.data[i]) / 255.0f;
    CHECK_THROWS_WITH(upscale_tiled(*g, f, {8, 2}, Device::cpu, [&](int, const float*) { ++rows_before_failure; }, "in.png"),
                      Contains("non-finite") && Contains("tile"));
  }
  CHECK(rows_before_failure > 0);  // the failure did come after rows were handed over
  CHECK_THROWS_WITH(upscale_file(*g, {(dir / "in.png").string(), out, true}, {8, 2}, Device::cpu, false),
                    Contains("non-finite") && Contains("tile"));
  std::ifstream f(out, std::ios::binary);
  CHECK(std::string(std::istreambuf_iterator<char>(f), {}) == "the previous output");
  int others = 0;
  for (auto& e : fs::directory_iterator(dir)) others += e.path().filename() != "in.png" && e.path().filename() != "out.png";
  CHECK(others == 0);
}

TEST_CASE("inputs are never overwritten, an existing output only with --overwrite", "[upscale][errors][overwrite]") {
  auto g = small_generator();
  fs::path dir = tmp("overwrite");
  const std::string a = (dir / "a.png").string(), a4 = (dir / "a_x4.png").string();
  auto bytes_of = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  data::write_png(a, data::Image(5, 4, 3, 90));
  const std::string a_bytes = bytes_of(a);

  // -o naming the input itself, directly or through a symbolic link: refused before any work.
  CHECK_THROWS_WITH(plan_upscale_jobs({a}, a, true), Contains("never overwrites an input") && Contains("a.png"));
  fs::create_symlink(a, dir / "link.png");
  CHECK_THROWS_WITH(plan_upscale_jobs({a}, (dir / "link.png").string(), true), Contains("never overwrites an input"));
  fs::remove(dir / "link.png");
  CHECK(bytes_of(a) == a_bytes);

  // A folder into itself: the first run writes a_x4.png beside a.png ...
  auto jobs = plan_upscale_jobs({dir.string()}, dir.string());
  REQUIRE(jobs.size() == 1);
  upscale_file(*g, jobs[0], {}, Device::cpu, false);
  REQUIRE(fs::exists(a4));
  // ... and a second run would take a_x4.png as an input and also write it (a.png's output): refused.
  CHECK_THROWS_WITH(plan_upscale_jobs({dir.string()}, dir.string(), true),
                    Contains("a_x4.png") && Contains("never overwrites an input"));

  // An existing output that is not an input: refused without --overwrite, by name; kept as it was.
  const std::string out = (dir / "out.png").string();
  data::write_file_atomic(out, std::string("keep me"));
  jobs = plan_upscale_jobs({a}, out);
  CHECK_THROWS_WITH(upscale_file(*g, jobs[0], {}, Device::cpu, false), Contains("out.png") && Contains("--overwrite"));
  CHECK(bytes_of(out) == "keep me");
  jobs = plan_upscale_jobs({a}, out, true);
  upscale_file(*g, jobs[0], {}, Device::cpu, false);
  CHECK(data::read_image_info(out).width == 20);
  CHECK(bytes_of(a) == a_bytes);

  // A killed earlier run's temporary file of this output is removed when it is written again.
  const fs::path stale = dir / (".out.png.tmp." + std::to_string(srgan::test::dead_pid()) + ".0");
  { std::ofstream(stale) << std::string(4096, 'x'); }
  upscale_file(*g, plan_upscale_jobs({a}, out, true)[0], {}, Device::cpu, false);
  CHECK_FALSE(fs::exists(stale));

  // A device is written to as it is, without --overwrite, and stays a device.
  jobs = plan_upscale_jobs({a}, "/dev/null");
  REQUIRE_NOTHROW(upscale_file(*g, jobs[0], {}, Device::cpu, false));
  CHECK(fs::is_character_file("/dev/null"));
}

TEST_CASE("a model of the wrong architecture is refused with the names that do not fit", "[upscale][errors][model]") {
  fs::path dir = tmp("model");
  Rng rng(1);
  DiscriminatorConfig dc;
  dc.crop = 16;
  dc.width = 2;
  dc.dense = 4;
  Discriminator d(dc, rng);
  save_module((dir / "d.safetensors").string(), d, discriminator_metadata(dc));
  REQUIRE_THROWS_WITH(load_generator((dir / "d.safetensors").string(), Device::cpu), Contains("d.safetensors"));
  // Right architecture name, wrong width: every mis-shaped tensor is listed.
  SRResNet g8({1, 8}, rng);
  Metadata m = srresnet_metadata({1, 16});
  save_module((dir / "w.safetensors").string(), g8, m);
  REQUIRE_THROWS_WITH(load_generator((dir / "w.safetensors").string(), Device::cpu),
                      Contains("w.safetensors") && Contains("head.0.weight"));
  REQUIRE_THROWS_WITH(load_generator((dir / "none.safetensors").string(), Device::cpu), Contains("does not exist"));
}
