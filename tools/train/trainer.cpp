// The training loop around the steps of tools/train/train_step.h: setup (models, arenas,
// optimizers, data), feeding batches to the step runner, deferred loss read-back with NaN/Inf
// detection, validation, sample grids and checkpoints.
#include "tools/train/trainer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/adam.h"
#include "core/autograd.h"
#include "core/backend.h"
#include "core/check.h"
#include "core/device.h"
#include "core/distributed.h"
#include "core/ops.h"
#include "core/param_arena.h"
#include "data/atomic_file.h"
#include "data/evaluate.h"
#include "data/image_folder.h"
#include "data/image_io.h"
#include "data/patch_loader.h"
#include "data/resize.h"
#include "models/checkpoint.h"
#include "models/discriminator.h"
#include "models/srresnet.h"
#include "models/vgg19.h"
#include "tools/upscale/model_file.h"
#include "tools/train/data_parallel.h"
#include "tools/train/ema.h"
#include "tools/train/step_runner.h"
#include "tools/upscale/tensor_image.h"
#include "tools/train/train_step.h"

namespace fs = std::filesystem;

namespace srgan::app {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One step's loss scalars, still on the device, waiting for the next read-back.
struct PendingStep {
  int64_t step;
  double time_s;  // since the start of this run, when the step finished
  double learning_rate;  // what the step used
  std::vector<std::pair<std::string, Tensor>> terms;
};

// A checkpoint's metadata value as a number; a corrupt value is an error naming the file and key.
int64_t meta_int(const std::string& path, const std::string& key, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE || x < 0)
    throw Error(path + ": checkpoint metadata '" + key + "' should be a count, got '" + v + "' (a corrupt file?)");
  return x;
}
double meta_double(const std::string& path, const std::string& key, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x))
    throw Error(path + ": checkpoint metadata '" + key + "' should be a number, got '" + v + "' (a corrupt file?)");
  return x;
}

std::string fmt(double v, int prec = 5) {
  std::ostringstream os;
  os.precision(prec);
  os << v;
  return os.str();
}

// JSON has no NaN: a metric that is undefined (sharpness of a flat image) is written as null.
std::string json_number(double v) { return std::isfinite(v) ? fmt(v, 6) : "null"; }

// On resume, drops log lines of steps after the checkpoint (a crashed run may have logged
// steps it never checkpointed; they are about to be run again).
void truncate_log_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto p = line.find("\"step\":");
    if (p == std::string::npos || line.back() != '}') continue;  // a line torn by the crash
    if (std::strtoll(line.c_str() + p + 7, nullptr, 10) > step) continue;
    kept += line + "\n";
  }
  in.close();
  data::write_file_atomic(path, kept);
}

class Trainer {
 public:
  Trainer(const TrainOptions& o, std::vector<StepRecord>* history, const std::atomic<bool>* stop)
      : opt_(o), history_(history), stop_(stop), dp_(process_group(), o.accum) {}
  TrainResult run();

 private:
  void setup();
  void load_init_weights();
  void resume_from_checkpoint();
  bool flush_pending();  // false when a non-finite value was found
  bool checkpoint_and_validate(bool final_checkpoint);  // false: weights not finite (bad_message_)
  bool weights_finite();
  void save_best(const Metadata& extra);
  void recover_best();
  TrainResult stop_non_finite();
  void save_checkpoint();
  TensorList checkpoint_tensors();
  void write_sample_grid(const data::Image& hr_img);
  double learning_rate_at(int64_t step) const;  // the rate step `step` (1-based) runs with
  std::vector<Tensor> checked_state();           // what must be identical on every rank
  void log(const std::string& line) const {  // progress: rank 0 only
    if (!opt_.quiet && dp_.writer()) std::fprintf(stderr, "%s\n", line.c_str());
  }
  int64_t samples_per_step() const { return int64_t(opt_.batch) * opt_.accum * dp_.ranks(); }

  TrainOptions opt_;
  std::vector<StepRecord>* history_;
  const std::atomic<bool>* stop_;
  DataParallel dp_;
  std::vector<Tensor> buffers_;  // G's and D's batch-norm running statistics
  double ema_decay_ = 0;         // 0: no weight average
  std::unique_ptr<WeightAverage> ema_;
  SRResNet& eval_model();        // what validation, samples and best.safetensors use
  bool gan_ = false;
  Device device_ = Device::cpu;
  Rng rng_{0};
  std::unique_ptr<SRResNet> g_;
  std::unique_ptr<Discriminator> d_;
  std::unique_ptr<VGG19Features> vgg_;
  ParamArena g_arena_, d_arena_;
  std::unique_ptr<Adam> g_opt_, d_opt_;
  std::shared_ptr<data::PatchDataset> dataset_;
  std::unique_ptr<data::PatchLoader> loader_;
  std::unique_ptr<StepRunner> runner_;
  int64_t step_ = 0;          // steps completed
  double best_psnr_ = -1.0;
  int64_t best_step_ = -1;    // the step best.safetensors holds (-1: none yet)
  std::vector<PendingStep> pending_;
  std::ofstream jsonl_;
  std::string bad_message_;
  std::map<std::string, double> last_terms_;  // the most recent step read back (progress line)
  int64_t last_checkpoint_step_ = -1;
  int64_t steps_at_start_ = 0;  // step_ when this run began (after --resume)
};

// Halved from --lr-halve-at on: step `lr_halve_at + 1` is the first with the halved rate.
// Every rank must hold bit-identical models and optimizer states; compared every kCheckEvery
// steps (a checksum each, all-gathered) and when the run ends.
constexpr int64_t kCheckEvery = 200;

std::vector<Tensor> Trainer::checked_state() {
  std::vector<Tensor> s{g_arena_.values(), g_opt_->exp_avg(), g_opt_->exp_avg_sq()};
  if (gan_) s.insert(s.end(), {d_arena_.values(), d_opt_->exp_avg(), d_opt_->exp_avg_sq()});
  s.insert(s.end(), buffers_.begin(), buffers_.end());
  return s;
}

double Trainer::learning_rate_at(int64_t step) const {
  const bool halved = opt_.lr_halve_at >= 0 && step - 1 >= opt_.lr_halve_at;
  return halved ? opt_.learning_rate * 0.5 : opt_.learning_rate;
}

void Trainer::setup() {
  if (opt_.phase != "pretrain" && opt_.phase != "gan")
    throw Error("--phase must be pretrain or gan, got '" + opt_.phase + "'");
  gan_ = opt_.phase == "gan";
  if (opt_.steps < 0 || opt_.batch < 1 || opt_.crop < 16 || opt_.crop % 4)
    throw Error("--steps must be >= 0, --batch >= 1 and --crop a multiple of 4 of at least 16");
  if (gan_ && opt_.crop % 16) throw Error("--phase gan needs --crop to be a multiple of 16 (the discriminator), got " +
                                          std::to_string(opt_.crop));
  if (opt_.log_every < 1) throw Error("--log-every must be >= 1, got " + std::to_string(opt_.log_every));
  if (!std::isfinite(opt_.learning_rate) || opt_.learning_rate <= 0)
    throw Error("--lr must be a positive number, got " + fmt(opt_.learning_rate));
  if (!std::isfinite(opt_.d_learning_rate)) throw Error("--d-lr must be a number >= 0, got " + fmt(opt_.d_learning_rate));
  if (!std::isfinite(opt_.weights.adversarial) || opt_.weights.adversarial < 0 ||
      !std::isfinite(opt_.weights.mse_with_vgg) || opt_.weights.mse_with_vgg < 0)
    throw Error("--adv-weight and --mse-weight must be numbers >= 0, got " + fmt(opt_.weights.adversarial) + " and " +
                fmt(opt_.weights.mse_with_vgg));
  if (!std::isfinite(opt_.weights.gradient_l1) || opt_.weights.gradient_l1 < 0 ||
      !std::isfinite(opt_.weights.feature_match) || opt_.weights.feature_match < 0 ||
      !std::isfinite(opt_.weights.low_frequency_l1) || opt_.weights.low_frequency_l1 < 0 ||
      !std::isfinite(opt_.weights.phase_mean_l1) || opt_.weights.phase_mean_l1 < 0)
    throw Error("--grad-weight, --fm-weight, --lowfreq-weight and --pattern-weight must be numbers >= 0, got " +
                fmt(opt_.weights.gradient_l1) + ", " + fmt(opt_.weights.feature_match) + ", " +
                fmt(opt_.weights.low_frequency_l1) + " and " + fmt(opt_.weights.phase_mean_l1));
  if (!(opt_.weights.real_label > 0.5 && opt_.weights.real_label <= 1.0))
    throw Error("--label-smooth must be in [0, 0.5), got " + fmt(1.0 - opt_.weights.real_label));
  if (opt_.val_every < 0) throw Error("--val-every must be >= 0 (0: only at the end), got " + std::to_string(opt_.val_every));
  if (!opt_.val.empty()) data::evaluation_files(opt_.val);  // a bad --val folder fails now, not after hours
  if (!opt_.resume && fs::exists(fs::path(opt_.out) / "last.safetensors"))
    throw Error(opt_.out + " already holds a training run (last.safetensors): continue it with --resume, or give "
                "another --out (or delete that folder) to start afresh");
  if (opt_.accum < 1) throw Error("--accum must be >= 1, got " + std::to_string(opt_.accum));
  device_ = parse_device(opt_.device);
  apply_precision(device_, opt_.precision);
  if (parse_graph_mode(opt_.cuda_graph) == GraphMode::on && device_ != Device::cuda)
    throw Error("--cuda-graph on needs a CUDA device, but training runs on the " + std::string(device_name(device_)));
  const ProcessGroup& group = process_group();
  if (device_ == Device::cuda && group.launched()) set_cuda_device(group.local_rank() % cuda_device_count());
  // The ranks on one machine share its cores.
  const int cores = set_cpu_threads(0);
  const int share = std::max(1, cores / group.local_size());
  const int threads = set_cpu_threads(opt_.threads > 0 ? opt_.threads : share);
  if (opt_.threads > threads)
    log("--threads " + std::to_string(opt_.threads) + " is more than this machine's " + std::to_string(threads) +
        " cores: using " + std::to_string(threads));
  if (group.distributed())
    log(std::to_string(group.size()) + " ranks (" + std::to_string(group.local_size()) + " on this machine, " +
        std::to_string(threads) + " CPU threads each), " + std::to_string(opt_.accum) + " micro-batch(es) of " +
        std::to_string(opt_.batch) + " per rank: " + std::to_string(samples_per_step()) + " samples a step; " +
        (opt_.sync_bn ? "batch norm synchronised over the ranks" : "batch norm per rank and micro-batch"));
  set_batch_norm_group(opt_.sync_bn ? &process_group() : nullptr);
  {  // every rank must run the same training (paths may differ between machines)
    std::ostringstream os;
    os << opt_.phase << ' ' << opt_.steps << ' ' << opt_.batch << ' ' << opt_.crop << ' ' << opt_.learning_rate << ' '
       << opt_.lr_halve_at << ' ' << opt_.d_learning_rate << ' ' << opt_.seed << ' ' << opt_.resume << ' '
       << opt_.blocks << ' ' << opt_.width << ' '
       << opt_.d_width << ' ' << opt_.accum << ' ' << opt_.sync_bn << ' ' << opt_.patches_per_visit << ' '
       << opt_.weights.adversarial << ' ' << opt_.weights.mse_with_vgg << ' ' << opt_.weights.gradient_l1 << ' '
       << opt_.weights.feature_match << ' ' << opt_.weights.low_frequency_l1 << ' ' << opt_.weights.phase_mean_l1 << ' '
       << opt_.weights.real_label << ' '
       << opt_.vgg.empty() << ' '
       << opt_.log_every << ' ' << opt_.val_every;
    dp_.check_same_options(os.str());
  }
  if (dp_.writer()) {
    fs::create_directories(opt_.out);
    // A run killed while it wrote a checkpoint, log or sample left a temporary file of full size.
    if (int n = data::remove_stale_temp_files_in(opt_.out))
      log("removed " + std::to_string(n) + " temporary file(s) of an earlier run that was killed while writing");
  }

  rng_ = Rng(opt_.seed * 0x9E3779B97F4A7C15ull + 1);
  g_ = std::make_unique<SRResNet>(SRResNetConfig{opt_.blocks, opt_.width}, rng_);
  if (gan_) {
    DiscriminatorConfig dc;
    dc.crop = opt_.crop;
    dc.width = opt_.d_width;
    d_ = std::make_unique<Discriminator>(dc, rng_);
    if (!opt_.vgg.empty()) {
      vgg_ = std::make_unique<VGG19Features>(VGG19Config::phi54(), rng_);
      load_module(opt_.vgg, *vgg_, true);
      vgg_->freeze();
      vgg_->to(device_);
      log("content loss: VGG19 phi_5,4 feature MSE (weights " + opt_.vgg + ")");
    } else {
      log("content loss: pixel MSE (no --vgg weights given: this is the paper's SRGAN-MSE variant)");
    }
  }
  if (!opt_.init.empty() && !opt_.resume) load_init_weights();
  ema_decay_ = opt_.ema < 0 ? (gan_ ? 0.999 : 0.0) : opt_.ema;
  if (!(ema_decay_ >= 0 && ema_decay_ < 1)) throw Error("--ema must be in [0, 1), got " + fmt(opt_.ema));

  g_->to(device_);
  g_arena_.adopt(g_->parameters(), device_);
  if (ema_decay_ > 0) {
    ema_ = std::make_unique<WeightAverage>(*g_, device_);
    log("validation and best.safetensors use an average of G's weights (decay " + fmt(ema_decay_) + ")");
  }
  g_opt_ = std::make_unique<Adam>(g_arena_, opt_.learning_rate, 0.9, 0.999, 1e-8);
  if (gan_) {
    d_->to(device_);
    d_arena_.adopt(d_->parameters(), device_);
    d_opt_ = std::make_unique<Adam>(d_arena_, opt_.learning_rate, 0.9, 0.999, 1e-8);
  }

  for (auto& [name, b] : g_->named_buffers()) buffers_.push_back(b);
  if (gan_)
    for (auto& [name, b] : d_->named_buffers()) buffers_.push_back(b);

  data::DatasetOptions dopt;
  dopt.scale = SRResNet::scale;
  dopt.patch = opt_.crop;
  dopt.cache_bytes = size_t(std::max<int64_t>(opt_.cache_mb, 0)) << 20;
  dopt.patches_per_visit = opt_.patches_per_visit;
  dataset_ = std::make_shared<data::PatchDataset>(opt_.data, dopt);
  data::LoaderState start{opt_.seed, 0};
  if (opt_.resume) resume_from_checkpoint();
  if (opt_.resume) start.next_sample = uint64_t(step_) * uint64_t(samples_per_step());
  data::LoaderOptions lopt;
  lopt.batch = opt_.batch;
  lopt.workers = opt_.workers;
  lopt.shares = dp_.ranks();  // each rank takes its runs of `accum` batches of every step
  lopt.share = dp_.rank();
  lopt.run = opt_.accum;
  loader_ = std::make_unique<data::PatchLoader>(dataset_, lopt, start);

  // The step's inputs hold all its micro-batches: (accum * batch, ...).
  const int low_res_side = opt_.crop / 4, rows = opt_.accum * opt_.batch;
  runner_ = std::make_unique<StepRunner>(device_, Shape{rows, low_res_side, low_res_side, 3},
                                         Shape{rows, opt_.crop, opt_.crop, 3}, parse_graph_mode(opt_.cuda_graph));
  const Tensor &low_res = runner_->low_res(), &high_res = runner_->high_res();
  const Accumulation acc = dp_.accumulation();
  if (gan_) runner_->set_plan(gan_plan({*g_, *d_, vgg_.get(), *g_opt_, *d_opt_, opt_.weights, acc}, low_res, high_res));
  else runner_->set_plan(pretrain_plan(*g_, *g_opt_, low_res, high_res, opt_.weights, acc));

  if (dp_.writer()) {
    const fs::path log_path = fs::path(opt_.out) / "train_log.jsonl";
    if (opt_.resume) truncate_log_after(log_path.string(), step_);
    jsonl_.open(log_path, opt_.resume ? std::ios::app : std::ios::trunc);
    if (!jsonl_) throw Error("cannot write " + (fs::path(opt_.out) / "train_log.jsonl").string());
  }
  log("training " + opt_.phase + " on " + device_name(device_) + ": SRResNet " + std::to_string(opt_.blocks) +
      " blocks x " + std::to_string(opt_.width) + " (" + std::to_string(g_->parameter_count()) + " parameters), batch " +
      std::to_string(opt_.batch) + ", crop " + std::to_string(opt_.crop) + ", " + std::to_string(dataset_->num_images()) +
      " images, steps " + std::to_string(step_) + " -> " + std::to_string(opt_.steps));
}

// --init: generator weights from a G-only file (best.safetensors, the bundled model) or from
// a full training checkpoint (names prefixed "G.").
void Trainer::load_init_weights() {
  load_generator_weights(opt_.init, *g_);
  log("generator initialised from " + opt_.init);
}

// Everything a checkpoint holds besides metadata, by name: G (and D) parameters and buffers and
// the Adam moments. Saving writes these tensors; resuming loads into the very same ones.
TensorList Trainer::checkpoint_tensors() {
  TensorList t = module_state(*g_, "G.");
  if (ema_)
    for (auto& e : module_state(ema_->model_as_is(), "EMA.")) t.push_back(e);
  t.push_back({"optG.exp_avg", g_opt_->exp_avg()});
  t.push_back({"optG.exp_avg_sq", g_opt_->exp_avg_sq()});
  if (gan_) {
    for (auto& e : module_state(*d_, "D.")) t.push_back(e);
    t.push_back({"optD.exp_avg", d_opt_->exp_avg()});
    t.push_back({"optD.exp_avg_sq", d_opt_->exp_avg_sq()});
  }
  return t;
}

void Trainer::save_checkpoint() {
  last_checkpoint_step_ = step_;
  if (!dp_.writer()) return;  // every rank holds the same state; rank 0 writes it
  TensorList t = checkpoint_tensors();
  Metadata m = srresnet_metadata(g_->config());
  m["phase"] = opt_.phase;
  m["step"] = std::to_string(step_);
  m["seed"] = std::to_string(opt_.seed);
  m["batch"] = std::to_string(opt_.batch);
  m["crop"] = std::to_string(opt_.crop);
  m["d_width"] = std::to_string(opt_.d_width);
  m["patches_per_visit"] = std::to_string(opt_.patches_per_visit);
  m["ranks"] = std::to_string(dp_.ranks());
  m["accum"] = std::to_string(opt_.accum);
  m["optG_steps"] = std::to_string(g_opt_->steps_taken());
  m["optD_steps"] = gan_ ? std::to_string(d_opt_->steps_taken()) : "0";
  m["best_psnr"] = fmt(best_psnr_, 10);
  m["best_step"] = std::to_string(best_step_);
  m["ema"] = fmt(ema_decay_, 10);
  save_tensors((fs::path(opt_.out) / "last.safetensors").string(), t, m);
}

void Trainer::resume_from_checkpoint() {
  const std::string path = (fs::path(opt_.out) / "last.safetensors").string();
  if (!fs::exists(path)) throw Error("--resume: no checkpoint " + path + " to resume from");
  SafeTensors st = load_safetensors(path);
  auto meta = [&](const char* k) {
    auto it = st.metadata.find(k);
    if (it == st.metadata.end()) throw Error(path + ": checkpoint metadata has no '" + k + "'");
    return it->second;
  };
  auto expect = [&](const char* k, const std::string& ours) {
    if (meta(k) != ours)
      throw Error(path + ": checkpoint was written with " + k + "=" + meta(k) + " but this run has " + k + "=" + ours);
  };
  expect("phase", opt_.phase);
  expect("blocks", std::to_string(opt_.blocks));
  expect("width", std::to_string(opt_.width));
  expect("batch", std::to_string(opt_.batch));
  expect("crop", std::to_string(opt_.crop));
  expect("seed", std::to_string(opt_.seed));
  if (st.metadata.count("patches_per_visit"))  // absent in checkpoints written before the option: 1
    expect("patches_per_visit", std::to_string(opt_.patches_per_visit));
  else if (opt_.patches_per_visit != 1)
    throw Error(path + ": checkpoint was written with patches_per_visit=1 but this run has patches_per_visit=" +
                std::to_string(opt_.patches_per_visit));
  if (gan_) expect("d_width", std::to_string(opt_.d_width));
  // The data order depends on how each step's samples were split: resume with the same split.
  for (const char* key : {"ranks", "accum"}) {
    const std::string ours = std::to_string(std::string(key) == "ranks" ? dp_.ranks() : opt_.accum);
    const std::string theirs = st.metadata.count(key) ? st.metadata.at(key) : "1";  // older checkpoints: one rank
    if (theirs != ours)
      throw Error(path + ": checkpoint was written with " + key + "=" + theirs + " but this run has " + key + "=" + ours +
                  " (resume with the same number of ranks and --accum: the data order depends on them)");
  }
  bool file_has_ema = false;
  for (auto& [name, t] : st.tensors) file_has_ema |= name.rfind("EMA.", 0) == 0;
  if (ema_ && !file_has_ema) {  // a checkpoint from before the average was kept: start it from G
    TensorList t = checkpoint_tensors();
    t.erase(std::remove_if(t.begin(), t.end(), [](const auto& e) { return e.first.rfind("EMA.", 0) == 0; }), t.end());
    load_tensors(path, t, true);
    ema_ = std::make_unique<WeightAverage>(*g_, device_);
    log(path + " holds no weight average: it starts from the checkpoint's G");
  } else if (!ema_ && file_has_ema) {  // the average is left out (--ema 0); everything else must match
    const LoadReport r = load_tensors(path, checkpoint_tensors(), false);
    std::string problems;
    for (auto& n : r.missing) problems += " missing " + n;
    for (auto& n : r.unexpected)
      if (n.rfind("EMA.", 0) != 0) problems += " unexpected " + n;
    if (!problems.empty()) throw Error(path + ": checkpoint does not match this run:" + problems);
  } else {
    load_tensors(path, checkpoint_tensors(), true);
  }
  step_ = meta_int(path, "step", meta("step"));
  g_opt_->set_steps_taken(meta_int(path, "optG_steps", meta("optG_steps")));
  if (gan_) d_opt_->set_steps_taken(meta_int(path, "optD_steps", meta("optD_steps")));
  best_psnr_ = meta_double(path, "best_psnr", meta("best_psnr"));
  if (st.metadata.count("best_step")) {  // absent in checkpoints written before it was recorded
    const std::string& b = st.metadata.at("best_step");
    best_step_ = b == "-1" ? -1 : meta_int(path, "best_step", b);
  }
  last_checkpoint_step_ = step_;
  if (step_ > opt_.steps)
    throw Error(path + " is at step " + std::to_string(step_) + ", beyond --steps " + std::to_string(opt_.steps) +
                ": nothing to resume; give --steps larger than " + std::to_string(step_) + " to train on");
  log("resumed from " + path + " at step " + std::to_string(step_) +
      (step_ == opt_.steps ? " (already at --steps " + std::to_string(opt_.steps) + ": nothing left to train)" : ""));
  recover_best();
}

bool Trainer::flush_pending() {
  // One small device->host copy per term, once per log interval; with several ranks the terms are
  // averaged over them (every rank reads the same means, so a NaN on any rank stops them all).
  std::vector<double> values;
  for (auto& p : pending_)
    for (auto& [name, t] : p.terms) values.push_back(t.item());
  dp_.mean_over_ranks(values);
  size_t next = 0;
  for (auto& p : pending_) {
    StepRecord r;
    r.step = p.step;
    for (auto& [name, t] : p.terms) {
      const double v = values[next++];
      r.terms[name] = v;
      if (!std::isfinite(v) && bad_message_.empty())
        bad_message_ = "non-finite " + name + " (" + fmt(v) + ") at step " + std::to_string(p.step);
    }
    std::ostringstream js;
    js << "{\"step\":" << r.step << ",\"phase\":\"" << opt_.phase << "\",\"lr\":" << fmt(p.learning_rate, 8)
       << ",\"time_s\":" << fmt(p.time_s, 8);
    for (auto& [k, v] : r.terms) js << ",\"" << k << "\":" << (std::isfinite(v) ? fmt(v, 9) : "null");
    js << "}\n";
    if (dp_.writer()) jsonl_ << js.str();
    last_terms_ = r.terms;
    if (history_) history_->push_back(r);
    if (!bad_message_.empty()) break;
  }
  if (dp_.writer()) jsonl_.flush();
  pending_.clear();
  return bad_message_.empty();
}

void Trainer::write_sample_grid(const data::Image& hr_full) {
  // bicubic | SR | HR of the first validation image (modcropped), side by side.
  data::Image hr = data::modcrop(data::drop_alpha(hr_full), 4);
  if (hr.channels == 1) hr = data::gray_to_rgb(hr);
  data::Image lr = data::downscale_bicubic(hr, 4);
  data::Image bic = data::upscale_bicubic(lr, 4);
  data::Image sr = upscale_whole(eval_model(), lr, device_);
  data::Image grid(hr.width * 3, hr.height, 3);
  for (int y = 0; y < hr.height; ++y)
    for (int k = 0; k < 3; ++k) {
      const data::Image& src = k == 0 ? bic : k == 1 ? sr : hr;
      std::copy(src.row(y), src.row(y) + size_t(hr.width) * 3, grid.row(y) + size_t(k) * hr.width * 3);
    }
  data::write_png((fs::path(opt_.out) / ("sample_step" + std::to_string(step_) + ".png")).string(), grid);
}

// best.safetensors is written after the checkpoint that records it (best_step, best_psnr), so a
// run killed while writing best.safetensors leaves a best older than the checkpoint says. The
// generator of that checkpoint is the better one: write it again from there.
SRResNet& Trainer::eval_model() { return ema_ ? ema_->model(*g_) : *g_; }

void Trainer::recover_best() {
  if (!dp_.writer() || best_step_ < 0 || best_step_ != step_) return;  // the checkpoint's G is not the recorded best
  const std::string path = (fs::path(opt_.out) / "best.safetensors").string();
  int64_t on_disk = -1;
  if (fs::exists(path)) {
    try {
      const Metadata m = load_safetensors(path).metadata;  // G only: small
      if (m.count("step")) on_disk = meta_int(path, "step", m.at("step"));
    } catch (const std::exception&) {
      on_disk = -1;  // unreadable (torn by the kill): rewritten below
    }
  }
  if (on_disk == best_step_) return;
  save_best({{"val_psnr", fmt(best_psnr_, 8)}});
  log("best.safetensors was older than " + (fs::path(opt_.out) / "last.safetensors").string() + " records (a run " +
      "killed while writing it?): written again from the checkpoint's generator (step " + std::to_string(step_) +
      ", PSNR " + fmt(best_psnr_, 5) + " dB)");
}

void Trainer::save_best(const Metadata& extra) {
  if (!dp_.writer()) return;
  Metadata m = srresnet_metadata(g_->config());
  m["step"] = std::to_string(step_);
  m["phase"] = opt_.phase;
  for (auto& [k, v] : extra) m[k] = v;
  if (ema_) m["ema"] = fmt(ema_decay_, 10);  // the weights are the average's
  save_module((fs::path(opt_.out) / "best.safetensors").string(), eval_model(), m);
}

// A finite loss does not guarantee finite weights (an overflowing gradient turns them into NaN in
// Adam's update), so the arenas are checked before they are written over the last checkpoint.
bool Trainer::weights_finite() {
  NoGradGuard ng;
  if (!std::isfinite(sum(g_arena_.values()).item())) return false;
  return !gan_ || std::isfinite(sum(d_arena_.values()).item());
}

bool Trainer::checkpoint_and_validate(bool final_checkpoint) {
  if (!weights_finite()) {
    bad_message_ = "non-finite weights after step " + std::to_string(step_) + " (an overflowing gradient)";
    return false;
  }
  save_checkpoint();  // first: a failing validation must not lose the steps since the last one
  if (!opt_.val.empty() && dp_.writer()) {  // the other ranks go on and wait in the next step's reduction
    auto t0 = Clock::now();
    SRResNet& g = eval_model();
    data::Upscaler up = [this, &g](const data::Image& lr) { return upscale_whole(g, lr, device_); };
    data::EvalSummary s = data::evaluate_folder(opt_.val, 4, up);
    std::ostringstream js;
    const data::Artifacts& a = s.mean.artifacts;  // docs/data.md: fixed pattern, colour shift, sharpness
    std::string shift;  // "R/G/B" or the one gray value, levels
    for (size_t c = 0; c < a.colour_shift.size(); ++c) shift += (c ? "/" : "") + fmt(a.colour_shift[c], 3);
    js << "{\"step\":" << step_ << ",\"val_psnr\":" << fmt(s.mean.psnr_y, 8) << ",\"val_ssim\":" << fmt(s.mean.ssim_y, 8)
       << ",\"val_fixed_pattern\":" << json_number(a.fixed_pattern) << ",\"val_colour_shift\":[";
    for (size_t c = 0; c < a.colour_shift.size(); ++c) js << (c ? "," : "") << json_number(a.colour_shift[c]);
    js << "],\"val_sharpness\":" << json_number(a.sharpness) << ",\"val_images\":" << s.images.size() << "}\n";
    jsonl_ << js.str();
    jsonl_.flush();
    log("validation at step " + std::to_string(step_) + ": PSNR " + fmt(s.mean.psnr_y, 5) + " dB, SSIM " +
        fmt(s.mean.ssim_y, 4) + ", fixed pattern " + fmt(a.fixed_pattern, 3) + ", colour shift " + shift +
        ", sharpness " + fmt(a.sharpness, 3) + " on " + std::to_string(s.images.size()) + " images (" +
        fmt(seconds_since(t0), 3) + " s)");
    if (s.mean.psnr_y > best_psnr_) {
      best_psnr_ = s.mean.psnr_y;
      best_step_ = step_;
      save_checkpoint();  // records the new best first: a kill during the next write is recoverable
      save_best({{"val_psnr", fmt(s.mean.psnr_y, 8)}});
    }
    auto files = data::list_image_files(opt_.val);
    if (!files.empty()) write_sample_grid(data::read_image(files.front()));
  } else if (final_checkpoint) {
    save_best({});  // no validation: the final generator
  }
  return true;
}

TrainResult Trainer::stop_non_finite() {
  log("training stopped: " + bad_message_ + "; no checkpoint was written after it" +
      (last_checkpoint_step_ >= 0 ? ", the last good one is " + (fs::path(opt_.out) / "last.safetensors").string() +
                                        " (step " + std::to_string(last_checkpoint_step_) + ")"
                                  : " (none was written before it)"));
  return TrainResult::non_finite;
}

TrainResult Trainer::run() {
  setup();
  StreamGuard on_runner_stream(runner_->stream());  // steps, read-backs, validation: one stream
  std::string graph_status = runner_->graph_status();
  if (device_ == Device::cuda) log("steps: " + graph_status);
  auto t_start = Clock::now(), t_log = Clock::now();
  int64_t log_from = step_;
  steps_at_start_ = step_;
  g_->train();
  if (gan_) d_->train();
  while (step_ < opt_.steps) {
    {  // this rank's micro-batches of the step, one after the other in the input buffers
      float *hr = runner_->high_res_host(), *lr = runner_->low_res_host();  // (K*N, H, W, 3), (K*N, h, w, 3)
      const size_t hr_n = size_t(opt_.batch) * dataset_->hr_floats(), lr_n = size_t(opt_.batch) * dataset_->lr_floats();
      for (int j = 0; j < opt_.accum; ++j) loader_->next(hr + j * hr_n, lr + j * lr_n);
    }
    PendingStep rec;
    rec.step = step_ + 1;
    rec.learning_rate = learning_rate_at(rec.step);
    g_opt_->lr = rec.learning_rate;
    if (gan_) d_opt_->lr = opt_.d_learning_rate < 0 ? rec.learning_rate
                                                    : rec.learning_rate / opt_.learning_rate * opt_.d_learning_rate;
    rec.terms = runner_->step();
    dp_.average(buffers_);
    if (ema_) ema_->update(g_arena_, ema_decay_);
    if (runner_->graph_status() != graph_status) {
      graph_status = runner_->graph_status();
      log("steps: " + graph_status);
    }
    ++step_;
    rec.time_s = seconds_since(t_start);
    pending_.push_back(std::move(rec));

    const bool at_log = step_ % opt_.log_every == 0 || step_ == opt_.steps;
    const bool at_val = opt_.val_every > 0 && step_ % opt_.val_every == 0;
    const bool stopping = dp_.any(stop_ && stop_->load());  // all ranks stop at the same step
    if (step_ % kCheckEvery == 0) dp_.check_identical(step_, checked_state());
    if (at_log || at_val || stopping) {
      if (!flush_pending()) return stop_non_finite();
      if (at_log && !opt_.quiet) {
        const double dt = seconds_since(t_log);
        const double rate = double(step_ - log_from) / std::max(dt, 1e-9);
        const double eta = double(opt_.steps - step_) / std::max(rate, 1e-9);
        std::ostringstream os;
        os << "step " << step_ << "/" << opt_.steps;
        for (auto& [k, v] : last_terms_) os << " " << k << " " << fmt(v, 5);
        os << " | " << fmt(rate, 3) << " steps/s, ETA " << fmt(eta / 60.0, 3) << " min";
        log(os.str());
        t_log = Clock::now();
        log_from = step_;
      }
      if (stopping) {
        if (!weights_finite()) {
          bad_message_ = "non-finite weights after step " + std::to_string(step_);
          return stop_non_finite();
        }
        save_checkpoint();  // no validation: Ctrl-C should return promptly
        log("interrupted: checkpoint written to " + (fs::path(opt_.out) / "last.safetensors").string() + " at step " +
            std::to_string(step_));
        return TrainResult::interrupted;
      }
      if (at_val && !checkpoint_and_validate(step_ == opt_.steps)) return stop_non_finite();
    }
  }
  // The final checkpoint (and best.safetensors without --val), unless the last step just wrote it.
  if ((last_checkpoint_step_ != step_ || opt_.val.empty()) && !checkpoint_and_validate(true)) return stop_non_finite();
  dp_.check_identical(step_, checked_state());
  const double total = seconds_since(t_start);
  log("done: " + std::to_string(step_) + " steps in " + fmt(total, 4) + " s; checkpoint " +
      (fs::path(opt_.out) / "last.safetensors").string());
  if (dp_.ranks() > 1 && step_ > steps_at_start_)
    log("gradient all-reduce: " + fmt(1e3 * dp_.reduce_seconds() / double(step_ - steps_at_start_), 4) +
        " ms a step on rank 0, " + fmt(100.0 * dp_.reduce_seconds() / total, 3) + "% of the run's time");
  return TrainResult::finished;
}

}  // namespace

TrainResult train(const TrainOptions& opt, std::vector<StepRecord>* history, const std::atomic<bool>* stop) {
  Trainer t(opt, history, stop);
  return t.run();
}

}  // namespace srgan::app
