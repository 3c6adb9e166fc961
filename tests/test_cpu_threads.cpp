// The CPU kernels whose loops are spread over threads (kernels/cpu_parallel.h) give the same bits
// with 1, 2 and 3 pool threads on shapes large enough to be split, and the pool itself covers
// every index exactly once. Sums are taken in fixed blocks, so even the reductions (PReLU slope and
// batch-norm statistics, column sums) must not change with the thread count. The convolutions
// are also held against the plain-loop reference (their GEMMs run in OpenBLAS's threads).
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <functional>
#include <thread>
#include <vector>

#include "kernels/activation.h"
#include "kernels/adam.h"
#include "kernels/batchnorm.h"
#include "kernels/column_sum.h"
#include "kernels/conv2d.h"
#include "kernels/cpu_parallel.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/maxpool.h"
#include "kernels/pixel_shuffle.h"
#include "kernels/prelu.h"
#include "tests/test_common.h"

using namespace srgan::kern;
using srgan::test::all_close;
using srgan::test::random_vector;

namespace {
using Outputs = std::vector<std::vector<float>>;

// Runs `f` with 1, 2 and 3 threads in our pool and requires identical outputs; returns the
// 1-thread ones. OpenBLAS keeps its own thread count: its GEMMs are not guaranteed to give the same
// bits for different thread counts (they do not, for some of the convolutions below).
Outputs same_for_all_thread_counts(const std::function<Outputs()>& f) {
  Outputs first;
  for (int threads : {1, 2, 3}) {
    cpu_set_threads(threads);
    Outputs got = f();
    if (threads == 1) first = got;
    INFO(threads << " threads");
    REQUIRE(got.size() == first.size());
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("output " << i);
      CHECK(got[i] == first[i]);
    }
  }
  cpu_set_threads(0);
  return first;
}
}  // namespace

TEST_CASE("parallel_for covers every index once, in chunks, and nests inline", "[cpu_parallel]") {
  for (int threads : {1, 2, 4}) {
    cpu_set_threads(threads);
    CHECK(cpu_threads() == threads);
    for (int64_t n : {0, 1, 7, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> chunks{0}, nested{0};
      parallel_for(n, 10, [&](int64_t b, int64_t e) {
        ++chunks;
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
        parallel_for(100, 1, [&](int64_t nb, int64_t ne) { nested += int(ne - nb); });  // runs inline
      });
      for (int64_t i = 0; i < n; ++i) REQUIRE(hits[size_t(i)].load() == 1);
      if (n >= 20) CHECK(chunks == threads);
      if (n > 0) CHECK(nested == 100 * chunks);
    }
    std::vector<int64_t> block_of(1000, -1);
    parallel_blocks(1000, 64, [&](int64_t b, int64_t m0, int64_t m1) {
      CHECK(m0 == b * 64);
      CHECK(m1 == std::min<int64_t>(1000, (b + 1) * 64));
      for (int64_t m = m0; m < m1; ++m) block_of[size_t(m)] = b;
    });
    for (int64_t m = 0; m < 1000; ++m) REQUIRE(block_of[size_t(m)] == m / 64);
  }
  cpu_set_threads(0);
}

TEST_CASE("parallel_for rethrows a chunk's exception after every chunk has finished", "[cpu_parallel]") {
  // The throwing chunk is the caller's own (chunk 0) or a worker's (the last one). Either way the
  // exception reaches the caller only once the other chunks are done (they write into `hits`,
  // which lives on this frame), and the pool runs the next job normally.
  for (int threads : {2, 4}) {
    cpu_set_threads(threads);
    for (bool caller_throws : {true, false}) {
      INFO(threads << " threads, " << (caller_throws ? "the caller's chunk" : "a worker's chunk") << " throws");
      const int64_t n = 4000;
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> finished{0};
      const auto job = [&](int64_t b, int64_t e) {
        const bool throws = caller_throws ? b == 0 : e == n;
        if (throws) throw std::runtime_error("chunk failed");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // still running when the throw happens
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
        ++finished;
      };
      CHECK_THROWS_WITH(parallel_for(n, 10, job), "chunk failed");
      CHECK(finished == threads - 1);  // every other chunk had finished when parallel_for threw
      int64_t covered = 0;
      for (int64_t i = 0; i < n; ++i) covered += hits[size_t(i)].load();
      CHECK(covered == n - n / threads);  // all but the throwing chunk's n / threads indices
      std::atomic<int64_t> sum{0};  // the pool still works
      parallel_for(n, 10, [&](int64_t b, int64_t e) { sum += e - b; });
      CHECK(sum == n);
    }
  }
  cpu_set_threads(0);
}

TEST_CASE("elementwise, activation, PReLU, pixel shuffle, max pool, Adam: same bits for any thread count",
          "[cpu_parallel]") {
  const int64_t M = 3001, C = 64, n = M * C;  // ~192K elements: split over threads
  const auto x = random_vector<float>(size_t(n), 1), b = random_vector<float>(size_t(n), 2);
  const auto a = random_vector<float>(size_t(C), 3, 0.0, 0.5), dy = random_vector<float>(size_t(n), 4);
  same_for_all_thread_counts([&] {
    Outputs o(12, std::vector<float>(size_t(n)));
    add_cpu<float>(n, x.data(), b.data(), o[0].data());
    mul_cpu<float>(n, x.data(), b.data(), o[1].data());
    scale_cpu<float>(n, x.data(), 0.3, o[2].data());
    o[3] = b;
    axpy_cpu<float>(n, -0.7, x.data(), o[3].data());
    channel_affine_cpu<float>(M, int(C), x.data(), a.data(), a.data(), o[4].data());
    ActivationParams ap;
    ap.n = n;
    ap.kind = Activation::leaky_relu;
    activation_forward_cpu<float>(ap, x.data(), o[5].data());
    activation_backward_cpu<float>(ap, x.data(), o[5].data(), dy.data(), o[6].data());
    PreluParams pp;
    pp.M = M;
    pp.C = int(C);
    pp.per_channel = true;
    prelu_forward_cpu<float>(pp, x.data(), a.data(), o[7].data());
    o[8].resize(size_t(C));
    prelu_backward_cpu<float>(pp, x.data(), a.data(), dy.data(), o[9].data(), o[8].data());
    PixelShuffleParams ps;  // (1, 41, 73, 64) -> (1, 82, 146, 16); 41*73*64 = 191552 <= n
    ps.N = 1; ps.H = 41; ps.W = 73; ps.C = 64; ps.r = 2;
    pixel_shuffle_forward_cpu<float>(ps, x.data(), o[10].data());
    MaxPoolParams mp;  // (2, 37, 41, 32): odd sides
    mp.N = 2; mp.H = 37; mp.W = 41; mp.C = 32;
    maxpool2x2_forward_cpu<float>(mp, x.data(), o[11].data());
    std::vector<float> mdx(size_t(mp.N) * mp.H * mp.W * mp.C);
    maxpool2x2_backward_cpu<float>(mp, x.data(), dy.data(), mdx.data());
    o.push_back(mdx);
    std::vector<float> w = x, g = dy, m(size_t(n), 0.0f), v(size_t(n), 0.0f);
    AdamParams ad;
    ad.n = n;
    for (int step = 1; step <= 3; ++step) {
      ad.step = step;
      adam_step_cpu<float>(ad, w.data(), g.data(), m.data(), v.data());
    }
    o.push_back(w);
    return o;
  });
}

TEST_CASE("batch norm and column sums: same bits for any thread count", "[cpu_parallel]") {
  BatchNormParams p;
  p.M = 5000;  // 20 blocks of 256 rows (the last one partial)
  p.C = 48;
  const size_t n = size_t(p.M) * p.C;
  const auto x = random_vector<float>(n, 11, -2.0, 3.0), dy = random_vector<float>(n, 12);
  const auto gamma = random_vector<float>(size_t(p.C), 13), beta = random_vector<float>(size_t(p.C), 14);
  same_for_all_thread_counts([&] {
    Outputs o;
    std::vector<float> y(n), mean(size_t(p.C)), invstd(size_t(p.C)), rm(size_t(p.C), 0.1f), rv(size_t(p.C), 2.0f);
    batchnorm_forward_train_cpu<float>(p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(),
                                       rm.data(), rv.data());
    std::vector<float> dx(n), dg(size_t(p.C)), db(size_t(p.C));
    batchnorm_backward_train_cpu<float>(p, x.data(), dy.data(), gamma.data(), mean.data(), invstd.data(), dx.data(),
                                        dg.data(), db.data());
    std::vector<float> ye(n), dxe(n), dge(size_t(p.C)), dbe(size_t(p.C));
    batchnorm_forward_eval_cpu<float>(p, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), ye.data());
    batchnorm_backward_eval_cpu<float>(p, x.data(), dy.data(), gamma.data(), rm.data(), rv.data(), dxe.data(),
                                       dge.data(), dbe.data());
    std::vector<float> cs(size_t(p.C));
    column_sum_cpu<float>(x.data(), p.M, p.C, cs.data());
    return Outputs{y, mean, invstd, rm, rv, dx, dg, db, ye, dxe, dge, dbe, cs};
  });
}

TEST_CASE("convolutions with threaded im2col, scatters and gathers match the reference", "[cpu_parallel][conv2d]") {
  // 3x3 64->64 (im2col, col2im over 4 images), 9x9 32->3 on one 64x64 image (the transposed
  // formulation: the forward scatter is split over output rows), and a strided 3x3.
  struct Case { int N, H, W, C, K, R, stride, pad; };
  for (Case c : {Case{4, 20, 22, 64, 64, 3, 1, 1}, Case{1, 64, 64, 32, 3, 9, 1, 4}, Case{2, 33, 31, 16, 32, 3, 2, 1}}) {
    Conv2dParams p;
    p.N = c.N; p.H = c.H; p.W = c.W; p.C = c.C; p.K = c.K; p.R = c.R; p.S = c.R; p.stride = c.stride; p.pad = c.pad;
    INFO("N=" << c.N << " H=" << c.H << " C=" << c.C << " K=" << c.K << " R=" << c.R << " stride=" << c.stride);
    const size_t nx = size_t(p.N) * p.H * p.W * p.C, ny = size_t(p.N) * p.P() * p.Q() * p.K;
    const size_t nw = size_t(p.K) * p.R * p.S * p.C;
    const auto x = random_vector<float>(nx, 21), w = random_vector<float>(nw, 22, -0.1, 0.1);
    const auto b = random_vector<float>(size_t(p.K), 23), dy = random_vector<float>(ny, 24);
    Outputs got = same_for_all_thread_counts([&] {
      std::vector<float> y(ny), dx(nx), dw(nw), db(size_t(p.K));
      conv2d_forward_cpu_gemm<float>(p, x.data(), w.data(), b.data(), y.data());
      conv2d_backward_data_cpu_gemm<float>(p, dy.data(), w.data(), dx.data());
      conv2d_backward_weight_cpu_gemm<float>(p, x.data(), dy.data(), dw.data(), db.data());
      return Outputs{y, dx, dw, db};
    });
    std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end()), dyd(dy.begin(), dy.end());
    std::vector<double> y(ny), dx(nx), dw(nw), db(size_t(p.K));
    conv2d_forward_cpu_ref<double>(p, xd.data(), wd.data(), bd.data(), y.data());
    conv2d_backward_data_cpu_ref<double>(p, dyd.data(), wd.data(), dx.data());
    conv2d_backward_weight_cpu_ref<double>(p, xd.data(), dyd.data(), dw.data(), db.data());
    // fp32 sums of up to a few thousand terms against double references (see test_kernels_cpu.cpp),
    // and up to N*P*Q = 1600..4096 terms of size ~1 for the weight gradients: 1e-3 absolute.
    SRGAN_REQUIRE_CLOSE(all_close(got[0], y, 1e-4, 1e-4));
    SRGAN_REQUIRE_CLOSE(all_close(got[1], dx, 1e-4, 1e-4));
    SRGAN_REQUIRE_CLOSE(all_close(got[2], dw, 1e-3, 1e-4));
    SRGAN_REQUIRE_CLOSE(all_close(got[3], db, 1e-3, 1e-4));
  }
}

TEST_CASE("Winograd convolution: same bits for any pool or OpenBLAS thread count", "[cpu_parallel][winograd]") {
  // Each of its GEMMs runs whole on one thread, and the weight gradient sums its blocks of tiles
  // in order, so unlike the im2col path its bits do not depend on OpenBLAS's thread count either.
  // 4 images of 20x22 make 4 * 5 * 6 = 120 tiles of 4x4, split over the threads; all three passes.
  Conv2dParams p;
  p.N = 4; p.H = 20; p.W = 22; p.C = 64; p.K = 48; p.R = 3; p.S = 3; p.stride = 1; p.pad = 1;
  REQUIRE(conv2d_winograd_applies(p));
  const size_t nx = size_t(p.N) * p.H * p.W * p.C, ny = size_t(p.N) * p.P() * p.Q() * p.K;
  const auto x = random_vector<float>(nx, 31), w = random_vector<float>(size_t(p.K) * 9 * p.C, 32, -0.1, 0.1);
  const auto b = random_vector<float>(size_t(p.K), 33), dy = random_vector<float>(ny, 34);
  Outputs first;
  for (int blas_threads : {1, 2}) {
    gemm_cpu_set_threads(blas_threads);
    Outputs got = same_for_all_thread_counts([&] {
      std::vector<float> y(ny), dx(nx), dw(w.size()), db(size_t(p.K));
      conv2d_forward_cpu_winograd<float>(p, x.data(), w.data(), b.data(), y.data(), 4);
      conv2d_backward_data_cpu_winograd<float>(p, dy.data(), w.data(), dx.data(), 4);
      conv2d_backward_weight_cpu_winograd<float>(p, x.data(), dy.data(), dw.data(), db.data(), 4);
      return Outputs{y, dx, dw, db};
    });
    if (first.empty()) first = got;
    INFO(blas_threads << " OpenBLAS threads");
    CHECK(got == first);
  }
  gemm_cpu_set_threads(int(std::thread::hardware_concurrency()));  // OpenBLAS's default: all cores
}
