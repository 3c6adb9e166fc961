// cuDNN baseline for conv2d (ConvAlgo::cudnn): NHWC tensors, KRSC filters (cuDNN's NHWC filter
// format), cross-correlation like PyTorch. Per shape and pass the algorithm is found once with
// cudnnFind*Algorithm (cuDNN times its candidates) and cached per thread with its descriptors.
// The math mode follows conv2d_cudnn_set_allow_tf32 (default: fp32 FMA only, the
// "PyTorch fp32" anchor). cuDNN may pick non-deterministic algorithms for the backward passes,
// as PyTorch does by default; this is a baseline for timing, not a training path.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>

#include "kernels/conv2d_cudnn.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"

namespace srgan::kern {
namespace {

std::atomic<bool> g_allow_tf32{false};

enum class Pass { fwd, bwd_data, bwd_filter };

using Key = std::tuple<int, int, int, int, int, int, int, int, int, int, int, bool>;

struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;
  size_t ws_bytes = 0;
  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {  // errors ignored: may run at thread exit
    if (x) (void)cudnnDestroyTensorDescriptor(x);
    if (y) (void)cudnnDestroyTensorDescriptor(y);
    if (bias) (void)cudnnDestroyTensorDescriptor(bias);
    if (w) (void)cudnnDestroyFilterDescriptor(w);
    if (conv) (void)cudnnDestroyConvolutionDescriptor(conv);
  }
};

constexpr size_t kMaxWorkspace = size_t(1) << 30;  // ignore algorithms wanting more than 1 GiB

bool math_ok(cudnnMathType_t m, bool tf32) {
  return tf32 || (m != CUDNN_TENSOR_OP_MATH && m != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
}

template <typename Perf>
const Perf* pick(const Perf* res, int n, bool tf32) {
  for (int i = 0; i < n; ++i)  // results come sorted by time
    if (res[i].status == CUDNN_STATUS_SUCCESS && res[i].memory <= kMaxWorkspace && math_ok(res[i].mathType, tf32))
      return &res[i];
  return nullptr;
}

Plan& get_plan(const Conv2dParams& p, Pass pass, cudnnHandle_t h) {
  thread_local std::map<Key, std::unique_ptr<Plan>> cache;
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  const bool tf32 = g_allow_tf32.load();
  const Key key{dev, int(pass), p.N, p.H, p.W, p.C, p.K, p.R, p.S, p.stride, p.pad, tf32};
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;

  auto plan = std::make_unique<Plan>();
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->x));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->y));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->bias));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan->w));
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan->conv));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, p.N, p.C, p.H, p.W));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, p.N, p.K, p.P(), p.Q()));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, p.K, 1, 1));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, p.K, p.C, p.R, p.S));
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan->conv, p.pad, p.pad, p.stride, p.stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));

  int returned = 0;
  if (pass == Pass::fwd) {
    cudnnConvolutionFwdAlgoPerf_t res[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, plan->x, plan->w, plan->conv, plan->y,
                                                     CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, res));
    const auto* best = pick(res, returned, tf32);
    if (!best) throw std::runtime_error("cuDNN: no usable forward convolution algorithm");
    plan->algo = int(best->algo);
    plan->ws_bytes = best->memory;
    if (tf32) CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, best->mathType));
  } else if (pass == Pass::bwd_data) {
    cudnnConvolutionBwdDataAlgoPerf_t res[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, plan->w, plan->y, plan->conv, plan->x,
                                                          CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, res));
    const auto* best = pick(res, returned, tf32);
    if (!best) throw std::runtime_error("cuDNN: no usable backward-data convolution algorithm");
    plan->algo = int(best->algo);
    plan->ws_bytes = best->memory;
    if (tf32) CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, best->mathType));
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t res[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, plan->x, plan->y, plan->conv, plan->w,
                                                            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, res));
    const auto* best = pick(res, returned, tf32);
    if (!best) throw std::runtime_error("cuDNN: no usable backward-filter convolution algorithm");
    plan->algo = int(best->algo);
    plan->ws_bytes = best->memory;
    if (tf32) CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, best->mathType));
  }
  Plan& ref = *plan;
  cache.emplace(key, std::move(plan));
  return ref;
}

}  // namespace

void conv2d_cudnn_set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool conv2d_cudnn_allow_tf32() { return g_allow_tf32.load(); }

void conv2d_forward_cudnn(const Conv2dParams& p, const float* x, const float* w, const float* b,
                          float* y, Stream s) {
  cudnnHandle_t h = cuda::cudnn_handle(s);
  Plan& pl = get_plan(p, Pass::fwd, h);
  void* ws = cuda::workspace(pl.ws_bytes, s);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionForward(h, &one, pl.x, x, pl.w, w, pl.conv,
                                      cudnnConvolutionFwdAlgo_t(pl.algo), ws, pl.ws_bytes, &zero, pl.y, y));
  if (b) CUDNN_CHECK(cudnnAddTensor(h, &one, pl.bias, b, &one, pl.y, y));
}

void conv2d_backward_data_cudnn(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                                Stream s) {
  cudnnHandle_t h = cuda::cudnn_handle(s);
  Plan& pl = get_plan(p, Pass::bwd_data, h);
  void* ws = cuda::workspace(pl.ws_bytes, s);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, pl.w, w, pl.y, dy, pl.conv,
                                           cudnnConvolutionBwdDataAlgo_t(pl.algo), ws, pl.ws_bytes,
                                           &zero, pl.x, dx));
}

void conv2d_backward_weight_cudnn(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                                  float* db, Stream s) {
  cudnnHandle_t h = cuda::cudnn_handle(s);
  Plan& pl = get_plan(p, Pass::bwd_filter, h);
  void* ws = cuda::workspace(pl.ws_bytes, s);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, pl.x, x, pl.y, dy, pl.conv,
                                             cudnnConvolutionBwdFilterAlgo_t(pl.algo), ws,
                                             pl.ws_bytes, &zero, pl.w, dw));
  if (db) CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, pl.y, dy, &zero, pl.bias, db));
}

}  // namespace srgan::kern
