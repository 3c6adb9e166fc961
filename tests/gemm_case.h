// One GEMM test case (transposes, sizes, extra leading-dimension padding, alpha/beta) and the
// GemmParams and operand row counts it stands for, shared by the CPU tile-GEMM emulation test and
// the CUDA GEMM test.
#pragma once
#include <algorithm>

#include "kernels/gemm.h"

namespace srgan::test {

struct GemmCase {
  bool ta, tb;
  int M, N, K, pad;  // pad: extra columns in each leading dimension
  double alpha, beta;

  int a_rows() const { return ta ? K : M; }  // rows of A as stored: (a_rows, lda)
  int b_rows() const { return tb ? N : K; }  // rows of B as stored: (b_rows, ldb)
  kern::GemmParams params() const {
    kern::GemmParams p;
    p.transA = ta; p.transB = tb; p.M = M; p.N = N; p.K = K;
    p.lda = std::max(ta ? M : K, 1) + pad;
    p.ldb = std::max(tb ? K : N, 1) + pad;
    p.ldc = N + pad;
    p.alpha = alpha;
    p.beta = beta;
    return p;
  }
};

}  // namespace srgan::test
