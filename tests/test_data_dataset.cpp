// Training patches and the prefetching loader (data/patch_dataset.h, data/patch_loader.h):
// reproducibility, HR/LR alignment through every orientation, exact resume, the DIV2K layout
// with LR files, the cache limit, and the documented warning or error for each bad input.
// Images are made here in a temporary folder. The throughput benchmark is the hidden test
// "[.bench]" (run: test_data_dataset "[bench]"; uses ../shared/data/DebianPhotos/HR if present).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "data/augment.h"
#include "data/image_io.h"
#include "data/patch_dataset.h"
#include "data/patch_loader.h"
#include "data/resize.h"
#include "data/rng.h"
#include "tests/test_common.h"

using namespace srgan::data;
using srgan::test::Contains;
namespace fs = std::filesystem;

namespace {

std::string shared_dir() {
  const char* e = std::getenv("SRGAN_SHARED_DIR");
  return (e && *e) ? std::string(e) : std::string(SRGAN_SHARED_DIR);
}

using srgan::test::TempDir;  // a temp folder removed at scope exit (tests/test_common.h)

// A smooth but asymmetric RGB image with noise, so every crop and orientation differs.
Image synthetic(int w, int h, uint64_t seed) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const uint64_t r = splitmix64(seed * 1000003u + uint64_t(y) * 7919u + uint64_t(x) * 31u + uint64_t(c));
        const int v = (x * (3 + c) + y * (5 - c) + int(seed) * 40) % 200 + int(r % 56);
        img.at(y, x, c) = uint8_t(v);
      }
  return img;
}

// n images of varying sizes named img_000.png ... in dir.
void make_folder(const fs::path& dir, int n, int base = 64) {
  fs::create_directories(dir);
  for (int i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "img_%03d.png", i);
    write_png((dir / name).string(), synthetic(base + 8 * (i % 3), base + 4 * (i % 4), uint64_t(i) + 1));
  }
}

// Collects warnings (called from worker threads too).
struct Warnings {
  std::mutex mu;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mu);
      lines.push_back(m);
    };
  }
  int count_with(const std::string& a, const std::string& b = "") {
    std::lock_guard<std::mutex> lock(mu);
    int n = 0;
    for (auto& l : lines) n += l.find(a) != std::string::npos && l.find(b) != std::string::npos;
    return n;
  }
};

DatasetOptions small_options(Warnings* w = nullptr) {
  DatasetOptions o;
  o.patch = 32;
  o.scale = 4;
  if (w) o.warn = w->sink();
  return o;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("dataset: the same seed gives the same batches, whatever the number of workers", "[data][dataset]") {
  TempDir tmp("seed");
  make_folder(tmp.path, 5);
  auto ds = std::make_shared<const PatchDataset>(tmp.path.string(), small_options());
  REQUIRE(ds->num_images() == 5);
  std::vector<std::vector<float>> ref;
  {
    PatchLoader l(ds, {4, 0, 1}, {42, 0});
    for (int b = 0; b < 6; ++b) ref.push_back(l.next().hr);
  }
  for (int workers : {1, 2, 3}) {
    PatchLoader l(ds, {4, workers, 3}, {42, 0});
    for (int b = 0; b < 6; ++b) {
      Batch batch = l.next();
      INFO("workers " << workers << " batch " << b);
      CHECK(batch.first_sample == uint64_t(b) * 4);
      REQUIRE(batch.hr == ref[size_t(b)]);
    }
  }
  PatchLoader other(ds, {4, 2, 2}, {43, 0});
  CHECK(other.next().hr != ref[0]);
}

TEST_CASE("dataset: batches are NHWC floats in 0..1 equal to the uint8 samples / 255", "[data][dataset]") {
  TempDir tmp("layout");
  make_folder(tmp.path, 3);
  auto ds = std::make_shared<const PatchDataset>(tmp.path.string(), small_options());
  PatchLoader l(ds, {3, 1, 2}, {7, 10});
  Batch b = l.next();
  REQUIRE(b.n == 3);
  REQUIRE(b.hr_size == 32);
  REQUIRE(b.lr_size == 8);
  REQUIRE(b.hr.size() == size_t(3 * 32 * 32 * 3));  // (N, H, W, C)
  REQUIRE(b.lr.size() == size_t(3 * 8 * 8 * 3));
  for (int i = 0; i < 3; ++i) {
    Image hr, lr;
    ds->sample(7, 10 + uint64_t(i), &hr, &lr);
    for (size_t k = 0; k < hr.size(); ++k) REQUIRE(b.hr[i * hr.size() + k] == float(hr.data[k]) / 255.0f);
    for (size_t k = 0; k < lr.size(); ++k) REQUIRE(b.lr[i * lr.size() + k] == float(lr.data[k]) / 255.0f);
  }
  std::vector<float> hr(b.hr.size()), lr(b.lr.size());
  l.next(hr.data(), lr.data());  // caller-provided buffers
  Batch again = PatchLoader(ds, {3, 0, 1}, {7, 13}).next();
  CHECK(hr == again.hr);
  CHECK(lr == again.lr);
}

TEST_CASE("dataset: LR is the bicubic downscale of the HR crop, through all 8 orientations", "[data][dataset]") {
  TempDir tmp("align");
  make_folder(tmp.path, 4, 48);
  const PatchDataset ds(tmp.path.string(), small_options());
  std::set<int> seen;
  for (uint64_t s = 0; s < 96; ++s) {
    Image hr, lr;
    const PatchRef r = ds.sample(5, s, &hr, &lr);
    seen.insert(r.orientation);
    const Image hr0 = unorient(hr, r.orientation), lr0 = unorient(lr, r.orientation);
    const Image full = read_image(ds.images()[r.image].hr_path);
    REQUIRE(hr0.data == crop(full, r.x, r.y, 32, 32).data);  // the HR crop is where the ref says
    REQUIRE(lr0.data == downscale_bicubic(hr0, 4).data);     // and the LR is made from it
  }
  CHECK(seen.size() == 8);
  // The 8 orientations of a patch are 8 different images and orient/unorient are inverse.
  const Image p = synthetic(12, 12, 9);
  std::set<std::vector<uint8_t>> distinct;
  for (int o = 0; o < kNumOrientations; ++o) {
    distinct.insert(orient(p, o).data);
    CHECK(unorient(orient(p, o), o).data == p.data);
  }
  CHECK(distinct.size() == 8);
  const Image rect = synthetic(5, 3, 2);
  CHECK(orient(rect, 5).width == 3);
  CHECK(orient(rect, 5).at(0, 2, 0) == rect.at(0, 0, 0));  // 5 = rotate 90 clockwise
  DatasetOptions no_aug = small_options();
  no_aug.augment = false;
  const PatchDataset plain(tmp.path.string(), no_aug);
  for (uint64_t s = 0; s < 8; ++s) {
    Image hr, lr;
    CHECK(plain.sample(5, s, &hr, &lr).orientation == 0);
  }
}

TEST_CASE("dataset: each epoch visits every image once, in a seeded order", "[data][dataset]") {
  TempDir tmp("epoch");
  make_folder(tmp.path, 7);
  const PatchDataset ds(tmp.path.string(), small_options());
  std::vector<size_t> e0, e1;
  for (uint64_t k = 0; k < 7; ++k) {
    e0.push_back(ds.image_of(3, k));
    e1.push_back(ds.image_of(3, 7 + k));
  }
  std::vector<size_t> s0 = e0, s1 = e1;
  std::sort(s0.begin(), s0.end());
  std::sort(s1.begin(), s1.end());
  for (size_t i = 0; i < 7; ++i) {
    CHECK(s0[i] == i);
    CHECK(s1[i] == i);
  }
  CHECK(e0 != e1);  // a new order each epoch (7! orders: a clash is a 1/5040 event for this seed)

  DatasetOptions o = small_options();
  o.patches_per_visit = 3;  // samples 3v, 3v+1, 3v+2 share an image; visits follow the same order
  const PatchDataset ds3(tmp.path.string(), o);
  for (uint64_t s = 0; s < 42; ++s) CHECK(ds3.image_of(3, s) == ds.image_of(3, s / 3));
}

TEST_CASE("dataset: a saved loader state resumes with exactly the next batches", "[data][dataset]") {
  TempDir tmp("resume");
  make_folder(tmp.path, 4);
  auto ds = std::make_shared<const PatchDataset>(tmp.path.string(), small_options());
  PatchLoader a(ds, {5, 2, 4}, {11, 0});
  for (int i = 0; i < 3; ++i) a.next();
  const LoaderState saved = a.state();
  CHECK(saved == LoaderState{11, 15});
  Batch a4 = a.next(), a5 = a.next();
  PatchLoader b(ds, {5, 2, 4}, saved);
  CHECK(b.next().hr == a4.hr);
  Batch b5 = b.next();
  CHECK(b5.hr == a5.hr);
  CHECK(b5.lr == a5.lr);
  a.restore(saved);  // in place
  CHECK(a.next().lr == a4.lr);
  CHECK(a.state() == LoaderState{11, 20});
}

TEST_CASE("dataset: ranks dealt runs of batches see what one loader hands out, in the same order", "[data][dataset]") {
  TempDir tmp("deal");
  make_folder(tmp.path, 3);
  auto ds = std::make_shared<const PatchDataset>(tmp.path.string(), small_options());
  // One process with 2 micro-batches per step for 2 ranks: 4 batches a step, in stream order.
  PatchLoader whole(ds, {2, 1, 4}, {7, 0});
  std::vector<Batch> stream;
  for (int i = 0; i < 12; ++i) stream.push_back(whole.next());
  for (int workers : {0, 2}) {
    LoaderOptions r0{2, workers, 4, 2, 0, 2}, r1{2, workers, 4, 2, 1, 2};  // runs of 2, share 0 / 1 of 2
    PatchLoader a(ds, r0, {7, 0}), b(ds, r1, {7, 0});
    for (int step = 0; step < 3; ++step)
      for (int j = 0; j < 2; ++j) {
        INFO("workers " << workers << ", step " << step << ", micro-batch " << j);
        const Batch ba = a.next(), bb = b.next();
        CHECK(ba.first_sample == stream[size_t(step * 4 + j)].first_sample);
        CHECK(ba.hr == stream[size_t(step * 4 + j)].hr);
        CHECK(bb.first_sample == stream[size_t(step * 4 + 2 + j)].first_sample);
        CHECK(bb.lr == stream[size_t(step * 4 + 2 + j)].lr);
      }
    // At a step boundary the state is the stream position after all ranks' batches.
    CHECK(a.state() == LoaderState{7, 3 * 4 * 2});
    CHECK(b.state() == a.state());
    a.next();
    CHECK_THROWS_WITH(a.state(), Contains("middle of a run"));
  }
  CHECK_THROWS_WITH(PatchLoader(ds, LoaderOptions{2, 0, 4, 2, 2, 1}, {7, 0}), Contains("dealing"));
}

TEST_CASE("dataset: DIV2K layout uses the LR files at the matching place", "[data][dataset]") {
  TempDir tmp("div2k");
  const fs::path hr_dir = tmp.path / "DIV2K_train_HR", lr_dir = tmp.path / "DIV2K_train_LR_bicubic" / "X4";
  fs::create_directories(hr_dir);
  fs::create_directories(lr_dir);
  for (int i = 1; i <= 3; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%04d", i);
    const Image hr = synthetic(80 + 8 * i, 64, uint64_t(i));
    write_png((hr_dir / (std::string(name) + ".png")).string(), hr);
    write_png((lr_dir / (std::string(name) + "x4.png")).string(), downscale_bicubic(hr, 4));
  }
  for (const fs::path& root : {tmp.path, hr_dir}) {  // the unpacked folder, or DIV2K_train_HR itself
    const PatchDataset ds(root.string(), small_options());
    REQUIRE(ds.num_images() == 3);
    for (auto& e : ds.images()) CHECK(!e.lr_path.empty());
    for (uint64_t s = 0; s < 24; ++s) {
      Image hr, lr;
      const PatchRef r = ds.sample(1, s, &hr, &lr);
      REQUIRE(r.from_lr_file);
      REQUIRE(r.x % 4 == 0);
      REQUIRE(r.y % 4 == 0);
      const Image hr0 = unorient(hr, r.orientation), lr0 = unorient(lr, r.orientation);
      const Image lr_file = read_image(ds.images()[r.image].lr_path);
      REQUIRE(lr0.data == crop(lr_file, r.x / 4, r.y / 4, 8, 8).data);
      // Away from the crop's edges (the kernel reaches 2 LR pixels), the LR file agrees with
      // downscaling the HR crop itself: the two are aligned.
      const Image mine = downscale_bicubic(hr0, 4);
      for (int y = 3; y < 5; ++y)
        for (int x = 3; x < 5; ++x)
          for (int c = 0; c < 3; ++c) REQUIRE(mine.at(y, x, c) == lr0.at(y, x, c));
    }
  }
  DatasetOptions no_lr = small_options();
  no_lr.use_lr_files = false;
  const PatchDataset ds(tmp.path.string(), no_lr);
  for (auto& e : ds.images()) CHECK(e.lr_path.empty());
}

TEST_CASE("dataset: the decoded-image cache stays under its byte limit", "[data][dataset]") {
  TempDir tmp("cache");
  make_folder(tmp.path, 6);  // images of 12-18 KB decoded
  DatasetOptions o = small_options();
  o.cache_bytes = 40000;
  auto ds = std::make_shared<const PatchDataset>(tmp.path.string(), o);
  PatchLoader l(ds, {6, 2, 2}, {0, 0});
  for (int i = 0; i < 5; ++i) l.next();
  const ImageCache::Stats s = ds->cache_stats();
  CHECK(s.bytes <= 40000);
  CHECK(s.evictions > 0);
  DatasetOptions big = small_options();
  auto ds2 = std::make_shared<const PatchDataset>(tmp.path.string(), big);
  PatchLoader l2(ds2, {6, 2, 2}, {0, 0});
  for (int i = 0; i < 5; ++i) l2.next();
  CHECK(ds2->cache_stats().misses == 6);  // each image decoded once
  CHECK(ds2->cache_stats().evictions == 0);
}

TEST_CASE("dataset: bad files are skipped with a warning naming them, and the loader keeps going", "[data][dataset]") {
  TempDir tmp("bad");
  make_folder(tmp.path, 3);
  const std::vector<uint8_t> png = encode_png(synthetic(64, 64, 99));
  std::ofstream(tmp.file("truncated.png"), std::ios::binary)
      .write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size() / 3));
  std::ofstream(tmp.file("text.png")) << "hello, not a PNG\n";
  std::ofstream(tmp.file("zero.png"));
  write_png(tmp.file("small.png"), synthetic(20, 40, 5));
  std::ofstream(tmp.file("notes.txt")) << "ignored: not an image extension\n";

  Warnings w;
  auto ds = std::make_shared<const PatchDataset>(tmp.path.string(), small_options(&w));
  CHECK(w.count_with(tmp.file("text.png"), "is not an image") == 1);
  CHECK(w.count_with(tmp.file("zero.png"), "is empty (0 bytes)") == 1);
  CHECK(w.count_with(tmp.file("small.png"), "20x40 is smaller than the 32x32 crop") == 1);
  CHECK(w.count_with("notes.txt") == 0);
  REQUIRE(ds->num_images() == 4);  // 3 good + the truncated one, whose header reads

  PatchLoader l(ds, {4, 2, 2}, {0, 0});
  for (int i = 0; i < 4; ++i) {  // 16 samples: every image is met
    Batch b = l.next();
    CHECK(b.hr.size() == size_t(4 * 32 * 32 * 3));
  }
  CHECK(w.count_with(tmp.file("truncated.png"), "is truncated or corrupt") == 1);  // once only
  // Substitution is deterministic: a fresh loader gives the same batches.
  Warnings w2;
  auto ds2 = std::make_shared<const PatchDataset>(tmp.path.string(), small_options(&w2));
  PatchLoader l1(ds, {4, 0, 1}, {0, 0}), l2(ds2, {4, 2, 3}, {0, 0});
  for (int i = 0; i < 4; ++i) CHECK(l1.next().hr == l2.next().hr);
}

TEST_CASE("dataset: missing, non-folder, empty, unusable and unreadable folders are errors", "[data][dataset]") {
  TempDir tmp("errors");
  const std::string missing = tmp.file("nope");
  CHECK(error_of([&] { PatchDataset(missing, small_options()); }) == "image folder '" + missing + "' does not exist");
  std::ofstream(tmp.file("plain_file")) << "x";
  CHECK(error_of([&] { PatchDataset(tmp.file("plain_file"), small_options()); }).find("is not a folder") !=
        std::string::npos);
  fs::create_directories(tmp.path / "empty");
  std::ofstream((tmp.path / "empty" / "readme.txt").string()) << "no images here";
  CHECK(error_of([&] { PatchDataset((tmp.path / "empty").string(), small_options()); })
            .find("holds no image files") != std::string::npos);
  fs::create_directories(tmp.path / "unusable");
  write_png((tmp.path / "unusable" / "tiny.png").string(), synthetic(8, 8, 1));
  Warnings w;
  CHECK(error_of([&] { PatchDataset((tmp.path / "unusable").string(), small_options(&w)); })
            .find("none of its 1 image files is usable") != std::string::npos);
  CHECK(w.count_with("tiny.png", "smaller than") == 1);
  // A crop that is not a multiple of the scale.
  DatasetOptions odd = small_options();
  odd.patch = 30;
  CHECK(error_of([&] { PatchDataset((tmp.path / "unusable").string(), odd); }).find("multiple of the scale") !=
        std::string::npos);

  const fs::path locked = tmp.path / "locked";
  make_folder(locked, 1);
  fs::permissions(locked, fs::perms::none);
  std::error_code ec;
  fs::directory_iterator probe(locked, ec);
  if (!ec) {
    WARN("skipped the unreadable-folder check: running as root, permissions do not stop reading");
  } else {
    CHECK(error_of([&] { PatchDataset(locked.string(), small_options()); }).find("cannot be read") !=
          std::string::npos);
  }
  fs::permissions(locked, fs::perms::owner_all);
}

TEST_CASE("dataset: a loader whose images all fail to decode reports the error from next()", "[data][dataset]") {
  TempDir tmp("allbad");
  const std::vector<uint8_t> png = encode_png(synthetic(64, 64, 1));
  std::ofstream(tmp.file("a.png"), std::ios::binary)
      .write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size() / 2));
  Warnings w;
  auto ds = std::make_shared<const PatchDataset>(tmp.path.string(), small_options(&w));
  PatchLoader l(ds, {2, 2, 2}, {0, 0});
  CHECK(error_of([&] { l.next(); }).find("none of its 1 images could be decoded") != std::string::npos);
  CHECK(w.count_with("a.png", "truncated") == 1);
}

TEST_CASE("dataset: loader throughput (benchmark, not run by ctest)", "[.bench]") {
  const fs::path photos = fs::path(shared_dir()) / "data" / "DebianPhotos" / "HR";
  TempDir tmp("bench");
  std::string dir = photos.string();
  if (!fs::is_directory(photos)) {
    WARN("DebianPhotos absent: benchmarking 16 synthetic 1200x800 images instead");
    for (int i = 0; i < 16; ++i) write_png(tmp.file("s" + std::to_string(i) + ".png"), synthetic(1200, 800, uint64_t(i)));
    dir = tmp.path.string();
  }
  const char* env_seconds = std::getenv("SRGAN_BENCH_SECONDS");
  const double seconds = env_seconds ? std::atof(env_seconds) : 5.0;
  struct Run {
    size_t cache;
    int per_visit;
  };
  for (const Run run : {Run{0, 1}, Run{size_t(64) << 20, 16}, Run{size_t(1) << 30, 1}}) {
    for (int workers : {1, 2}) {
      const size_t cache = run.cache;
      DatasetOptions o;  // 96x96 HR crops, x4, augmentation on
      o.cache_bytes = cache;
      o.patches_per_visit = run.per_visit;
      auto ds = std::make_shared<const PatchDataset>(dir, o);
      PatchLoader l(ds, {16, workers, 4}, {1, 0});
      if (cache && run.per_visit == 1) {  // warm the cache first: steady state of a long run
        for (size_t i = 0; i < (ds->num_images() + 15) / 16 + 1; ++i) l.next();
      }
      const auto t0 = std::chrono::steady_clock::now();
      int patches = 0;
      double dt = 0.0;
      do {
        patches += l.next().n;
        dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      } while (dt < seconds);
      std::printf("loader: %zu images, cache %zu MiB, %d patches per visit, workers %d: %.0f patches/s (%d in %.2f s)\n",
                  ds->num_images(), cache >> 20, run.per_visit, workers, patches / dt, patches, dt);
    }
  }
  // The parts of one patch, single thread, image already decoded.
  const Image full = synthetic(1200, 800, 3);
  const int reps = 2000;
  auto t0 = std::chrono::steady_clock::now();
  size_t sink = 0;
  for (int i = 0; i < reps; ++i) {
    const Image hr = crop(full, (i * 37) % 1100, (i * 53) % 700, 96, 96);
    const Image lr = downscale_bicubic(hr, 4);
    sink += orient(hr, i % 8).data[0] + orient(lr, i % 8).data[0];
  }
  const double per = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
  std::printf("one patch (crop + x4 bicubic + orient), 1 thread: %.1f us (%zu)\n", per * 1e6, sink % 2);
  const auto t1 = std::chrono::steady_clock::now();
  const Image dec = read_image((fs::is_directory(photos) ? photos / "Aqua.png" : fs::path(tmp.file("s0.png"))).string());
  std::printf("decode one %dx%d PNG: %.1f ms\n", dec.width, dec.height,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() * 1e3);
}
