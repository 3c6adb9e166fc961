// The training loop end to end on tiny models and generated images: the MSE loss goes down,
// --resume reproduces an uninterrupted run's loss sequence exactly (CPU), a NaN/Inf stops
// training naming the step and term while keeping the last good checkpoint, and resuming with
// a different architecture is refused.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "core/safetensors.h"
#include "data/image_io.h"
#include "tools/train/trainer.h"
#include "tests/test_common.h"
#include "tests/train_fixture.h"

namespace fs = std::filesystem;
using namespace srgan;
using namespace srgan::app;
using srgan::test::Contains;
using srgan::test::make_image_folder;
using srgan::test::out_dir;
using srgan::test::tiny;

TEST_CASE("a short CPU pretraining run lowers the MSE loss", "[train]") {
  TrainOptions o = tiny(make_image_folder("smoke", 4), out_dir("smoke"));
  o.steps = 40;
  std::vector<StepRecord> h;
  REQUIRE(train(o, &h) == TrainResult::finished);
  REQUIRE(h.size() == 40);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += h[size_t(i)].terms.at("pixel_mse") / 5;
  for (int i = 35; i < 40; ++i) last += h[size_t(i)].terms.at("pixel_mse") / 5;
  INFO("mean MSE of steps 1-5: " << first << ", of steps 36-40: " << last);
  REQUIRE(last < 0.5 * first);
  REQUIRE(fs::exists(fs::path(o.out) / "last.safetensors"));
  REQUIRE(fs::exists(fs::path(o.out) / "best.safetensors"));
}

TEST_CASE("resume continues exactly: the loss sequence equals an uninterrupted run's", "[train][resume]") {
  const std::string data = make_image_folder("resume", 3);
  for (std::string phase : {"pretrain", "gan"}) {
    INFO("phase " << phase);
    TrainOptions full = tiny(data, out_dir("resume_full_" + phase));
    full.phase = phase;
    full.d_width = 4;
    full.steps = 6;
    std::vector<StepRecord> a;
    REQUIRE(train(full, &a) == TrainResult::finished);

    TrainOptions part = tiny(data, out_dir("resume_part_" + phase));
    part.phase = phase;
    part.d_width = 4;
    part.steps = 3;
    std::vector<StepRecord> b;
    REQUIRE(train(part, &b) == TrainResult::finished);
    part.steps = 6;
    part.resume = true;
    REQUIRE(train(part, &b) == TrainResult::finished);

    REQUIRE(a.size() == 6);
    REQUIRE(b.size() == 6);
    for (size_t i = 0; i < 6; ++i) {
      INFO("step " << a[i].step);
      REQUIRE(b[i].step == a[i].step);
      REQUIRE(b[i].terms == a[i].terms);  // bit-exact, every term
    }
  }
}

TEST_CASE("a non-finite loss stops training, names the step and term, keeps the last good checkpoint", "[train][nan]") {
  TrainOptions o = tiny(make_image_folder("nan", 3), out_dir("nan"));
  o.steps = 4;
  REQUIRE(train(o, nullptr) == TrainResult::finished);  // a good checkpoint at step 4
  auto good_time = fs::last_write_time(fs::path(o.out) / "last.safetensors");
  // An absurd learning rate makes the weights overflow within a few steps.
  o.resume = true;
  o.steps = 60;
  o.learning_rate = 1e30;
  std::vector<StepRecord> h;
  REQUIRE(train(o, &h) == TrainResult::non_finite);
  REQUIRE_FALSE(h.empty());
  bool any_bad = false;
  for (auto& [k, v] : h.back().terms) any_bad |= !std::isfinite(v);
  REQUIRE(any_bad);  // the run stopped at the first step with a non-finite term
  for (size_t i = 0; i + 1 < h.size(); ++i)
    for (auto& [k, v] : h[i].terms) REQUIRE(std::isfinite(v));
  REQUIRE(fs::last_write_time(fs::path(o.out) / "last.safetensors") == good_time);  // untouched
}

TEST_CASE("resuming with a different architecture or a missing checkpoint is refused", "[train][resume][errors]") {
  const std::string data = make_image_folder("mismatch", 3);
  TrainOptions o = tiny(data, out_dir("mismatch"));
  o.steps = 2;
  REQUIRE(train(o, nullptr) == TrainResult::finished);
  o.resume = true;
  o.steps = 4;
  o.width = 16;
  REQUIRE_THROWS_WITH(train(o, nullptr), Contains("last.safetensors") && Contains("width=8") && Contains("width=16"));
  TrainOptions fresh = tiny(data, out_dir("mismatch_none"));
  fresh.resume = true;
  REQUIRE_THROWS_WITH(train(fresh, nullptr), Contains("no checkpoint"));
  TrainOptions nodata = tiny(data + "_does_not_exist", out_dir("nodata"));
  REQUIRE_THROWS_WITH(train(nodata, nullptr), Contains("does_not_exist"));
}

TEST_CASE("resume drops log lines of steps the checkpoint never saw", "[train][resume]") {
  TrainOptions o = tiny(make_image_folder("log", 3), out_dir("log"));
  o.steps = 3;
  REQUIRE(train(o, nullptr) == TrainResult::finished);
  const fs::path log = fs::path(o.out) / "train_log.jsonl";
  {  // a crashed run logged steps 4 and 5 after its last checkpoint (step 3)
    std::ofstream f(log, std::ios::app);
    f << "{\"step\":4,\"pixel_mse\":1}\n{\"step\":5,\"pixel_mse\":1}\n";
  }
  o.resume = true;
  o.steps = 5;
  REQUIRE(train(o, nullptr) == TrainResult::finished);
  std::ifstream f(log);
  std::vector<int> steps;
  for (std::string line; std::getline(f, line);) {
    auto p = line.find("\"step\":");
    REQUIRE(p != std::string::npos);
    steps.push_back(std::stoi(line.substr(p + 7)));
    REQUIRE(line.find("\"pixel_mse\":1}") == std::string::npos);  // the crashed run's lines are gone
  }
  REQUIRE(steps == std::vector<int>{1, 2, 3, 4, 5});
}

TEST_CASE("checkpoints on a validation step still write best.safetensors, runs are not overwritten", "[train][checkpoint]") {
  TrainOptions o = tiny(make_image_folder("best", 3), out_dir("best"));
  o.steps = 4;
  o.val_every = 2;  // the last step is a checkpoint step too, with no --val
  REQUIRE(train(o, nullptr) == TrainResult::finished);
  REQUIRE(fs::exists(fs::path(o.out) / "best.safetensors"));
  // Starting again into the same folder without --resume would wipe the run: refused.
  REQUIRE_THROWS_WITH(train(o, nullptr), Contains("--resume") && Contains("last.safetensors"));
  TrainOptions bad = tiny(o.data, out_dir("best_bad"));
  bad.log_every = 0;
  REQUIRE_THROWS_WITH(train(bad, nullptr), Contains("--log-every"));
  bad.log_every = 1;
  bad.val = o.data + "_missing_val";
  REQUIRE_THROWS_WITH(train(bad, nullptr), Contains("_missing_val"));
}

// Each step's log line carries the learning rate that step ran with, even when the lines are
// written later (at the log interval), after --lr-halve-at has changed the rate.
TEST_CASE("the log records each step's own learning rate across --lr-halve-at", "[train][log]") {
  TrainOptions o = tiny(make_image_folder("lr_log", 2), out_dir("lr_log"));
  o.steps = 6;
  o.log_every = 6;  // all six lines are written after the halving
  o.learning_rate = 1e-3;
  o.lr_halve_at = 3;  // steps 1-3 at 1e-3, steps 4-6 at 5e-4
  REQUIRE(train(o, nullptr) == TrainResult::finished);
  std::ifstream log(fs::path(o.out) / "train_log.jsonl");
  std::string line;
  int steps_seen = 0;
  while (std::getline(log, line)) {
    const auto s = line.find("\"step\":"), r = line.find("\"lr\":");
    if (s == std::string::npos || r == std::string::npos) continue;  // validation lines
    const long step = std::strtol(line.c_str() + s + 7, nullptr, 10);
    const double rate = std::strtod(line.c_str() + r + 5, nullptr);
    INFO(line);
    CHECK(rate == (step <= 3 ? 1e-3 : 5e-4));
    ++steps_seen;
  }
  CHECK(steps_seen == 6);
}

// A kill while best.safetensors was being written (after the checkpoint that records it) left an
// older or torn best: --resume writes it again from the checkpoint's generator.
TEST_CASE("resume rewrites a best.safetensors that a kill left behind the checkpoint", "[train][resume][kill]") {
  const std::string data = make_image_folder("best_kill", 2);
  TrainOptions o = tiny(data, out_dir("best_kill"));
  o.steps = 2;
  o.val = data;
  o.val_every = 2;  // validation at step 2: the best so far, recorded in last.safetensors
  REQUIRE(train(o, nullptr) == TrainResult::finished);
  const fs::path best = fs::path(o.out) / "best.safetensors", last = fs::path(o.out) / "last.safetensors";
  const SafeTensors good = load_safetensors(best.string());
  REQUIRE(good.metadata.at("step") == "2");
  { std::ofstream torn(best, std::ios::binary | std::ios::trunc); torn << "half a header"; }  // the kill
  o.resume = true;
  REQUIRE(train(o, nullptr) == TrainResult::finished);  // nothing left to train, but best is mended
  const SafeTensors mended = load_safetensors(best.string());
  CHECK(mended.metadata.at("step") == "2");
  CHECK(mended.metadata.at("val_psnr") == good.metadata.at("val_psnr"));
  {  // the validation line of the log carries the artefact metrics beside PSNR (docs/data.md)
    std::ifstream log(fs::path(o.out) / "train_log.jsonl");
    std::string line, val;
    while (std::getline(log, line))
      if (line.find("\"val_psnr\"") != std::string::npos) val = line;
    INFO(val);
    REQUIRE_FALSE(val.empty());
    auto number_after = [&](const std::string& key) {
      const size_t at = val.find("\"" + key + "\":");
      REQUIRE(at != std::string::npos);
      return std::stod(val.substr(at + key.size() + 3));
    };
    CHECK(number_after("val_fixed_pattern") >= 0);
    CHECK(number_after("val_sharpness") > 0);
    const size_t shift = val.find("\"val_colour_shift\":[");
    REQUIRE(shift != std::string::npos);
    const std::string list = val.substr(shift, val.find(']', shift) - shift);
    CHECK(std::count(list.begin(), list.end(), ',') == 2);  // R, G, B
    CHECK(std::stod(good.metadata.at("val_psnr")) == Approx(number_after("val_psnr")).epsilon(1e-6));
  }
  const SafeTensors ckpt = load_safetensors(last.string());
  for (const auto& [name, t] : mended.tensors) {
    INFO(name);
    CHECK(t.to_vector() == ckpt.find("G." + name).to_vector());  // the checkpoint's generator, bit for bit
  }
}

TEST_CASE("temporary files of a run killed while writing are removed on the next start", "[train][resume][kill]") {
  TrainOptions o = tiny(make_image_folder("stale", 2), out_dir("stale"));
  o.steps = 2;
  REQUIRE(train(o, nullptr) == TrainResult::finished);
  const pid_t dead = srgan::test::dead_pid();
  const fs::path stale = fs::path(o.out) / (".last.safetensors.tmp." + std::to_string(dead) + ".0");
  const fs::path users = fs::path(o.out) / "notes.txt";
  { std::ofstream(stale) << std::string(1000, 'x'); }
  { std::ofstream(users) << "mine"; }
  o.resume = true;
  o.steps = 3;
  REQUIRE(train(o, nullptr) == TrainResult::finished);
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(users));
}

TEST_CASE("bad numbers are refused: corrupt checkpoint metadata, --steps behind the checkpoint, --lr nan",
          "[train][errors]") {
  const std::string data = make_image_folder("bad_numbers", 2);
  TrainOptions o = tiny(data, out_dir("bad_numbers"));
  o.steps = 3;
  REQUIRE(train(o, nullptr) == TrainResult::finished);
  o.resume = true;
  o.steps = 2;  // the checkpoint is at step 3
  CHECK_THROWS_WITH(train(o, nullptr), Contains("step 3") && Contains("--steps 2"));
  // A checkpoint whose 'step' is not a number names the file and the key.
  const std::string last = (fs::path(o.out) / "last.safetensors").string();
  SafeTensors st = load_safetensors(last);
  st.metadata["step"] = "3x";
  save_safetensors(last, st.tensors, st.metadata);
  o.steps = 5;
  CHECK_THROWS_WITH(train(o, nullptr), Contains("last.safetensors") && Contains("'step'") && Contains("3x"));

  TrainOptions bad = tiny(data, out_dir("bad_lr"));
  bad.learning_rate = std::nan("");
  CHECK_THROWS_WITH(train(bad, nullptr), Contains("--lr"));
  bad.learning_rate = 1e-3;
  bad.weights.adversarial = -1;
  CHECK_THROWS_WITH(train(bad, nullptr), Contains("--adv-weight"));
  bad.weights.adversarial = 1e-3;
  bad.weights.gradient_l1 = std::nan("");
  CHECK_THROWS_WITH(train(bad, nullptr), Contains("--grad-weight"));
  bad.weights.gradient_l1 = 0;
  bad.weights.feature_match = -1;
  CHECK_THROWS_WITH(train(bad, nullptr), Contains("--fm-weight"));
  bad.weights.feature_match = 0;
  bad.weights.real_label = 0.4;  // --label-smooth 0.6
  CHECK_THROWS_WITH(train(bad, nullptr), Contains("--label-smooth"));
}

// The GAN phase keeps an average of G's weights (decay 0.999 by default): it resumes bit-exactly,
// and best.safetensors holds the average, not the last weights.
TEST_CASE("the weight average of the GAN phase resumes exactly and is what best.safetensors holds",
          "[train][resume][ema]") {
  const std::string data = make_image_folder("ema", 2);
  auto run = [&](const std::string& name, std::vector<int64_t> stops) {
    TrainOptions o = tiny(data, out_dir(name));
    o.phase = "gan";
    o.d_width = 4;
    o.ema = 0.9;  // short runs: a decay whose average moves visibly in a few steps
    for (size_t i = 0; i < stops.size(); ++i) {
      o.steps = stops[i];
      o.resume = i > 0;
      REQUIRE(train(o, nullptr) == TrainResult::finished);
    }
    return load_safetensors((fs::path(o.out) / "last.safetensors").string());
  };
  const SafeTensors straight = run("ema_full", {4}), resumed = run("ema_part", {2, 4});
  int averaged = 0;
  for (const auto& [name, t] : straight.tensors) {
    if (name.rfind("EMA.", 0) != 0) continue;
    ++averaged;
    INFO(name);
    CHECK(t.to_vector() == resumed.find(name).to_vector());  // bit for bit
  }
  CHECK(averaged > 0);
  // The average differs from the last weights (they moved), and best.safetensors holds the average.
  const SafeTensors best = load_safetensors((fs::path(out_dir("ema_full")) / "best.safetensors").string());
  CHECK(best.metadata.at("ema") == "0.9");
  const std::string w = "tail.weight";
  CHECK(best.find(w).to_vector() == straight.find("EMA." + w).to_vector());
  CHECK(best.find(w).to_vector() != straight.find("G." + w).to_vector());
}
