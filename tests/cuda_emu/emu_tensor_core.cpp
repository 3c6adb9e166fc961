// The CUDA emulator's tensor-core instructions (see cuda_emu.h): cvt.rna.tf32.f32,
// cvt.rn.bf16x2.f32, and mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 and
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, warp collectives built on warp_exchange.
#include <cstdint>
#include <cstring>

#include "tests/cuda_emu/cuda_emu.h"
#include "tests/cuda_emu/emu_internal.h"

namespace srgan::emu {

uint32_t cvt_rna_tf32(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return u;  // inf and NaN pass through
  return (u + 0x1000u) & 0xffffe000u;               // round half away from zero to 10 bits
}

void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  struct Frag {
    uint32_t a[4], b[2];
  };
  const Frag mine{{a[0], a[1], a[2], a[3]}, {b[0], b[1]}};
  counters_note(WarpInstr::hmma);
  const unsigned char* slots = warp_exchange(0xffffffffu, &mine, sizeof(Frag));
  // Word w of lane l's Frag (a0..a3 are words 0-3, b0, b1 words 4-5), read as TF32: the tensor
  // core reads only the TF32 bits of each operand.
  auto tf32_word = [slots](int l, int w) {
    uint32_t u;
    std::memcpy(&u, slots + size_t(l) * kWarpSlotBytes + size_t(w) * 4, 4);
    u &= 0xffffe000u;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  // PTX ISA, "Matrix Fragments for mma.m16n8k8" (.tf32), with g = lane >> 2, t = lane % 4:
  //   A (16x8, row): a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4)
  //   B (8x8, col):  b0 (t, g), b1 (t+4, g)
  //   C/D (16x8):    c0 (g, 2t), c1 (g, 2t+1), c2 (g+8, 2t), c3 (g+8, 2t+1)
  // so A[r][k] is register (r >= 8) + 2 (k >= 4) of lane 4 (r % 8) + k % 4, and B[k][c] is
  // register (k >= 4) of lane 4 c + k % 4.
  // This lane's outputs need rows g and g + 8 of A and columns 2t and 2t + 1 of B: gathered
  // once (16 + 16 operands), then each output sums its 8 products in k order.
  const int lane = lane_id(), g = lane >> 2, t = lane & 3;
  double av[2][8], bv[2][8];  // av[h][k] = A[g + 8h][k], bv[j][k] = B[k][2t + j]
  for (int k = 0; k < 8; ++k)
    for (int h = 0; h < 2; ++h) {
      av[h][k] = tf32_word(4 * g + k % 4, h + (k >= 4 ? 2 : 0));
      bv[h][k] = tf32_word(4 * (2 * t + h) + k % 4, 4 + (k >= 4 ? 1 : 0));
    }
  for (int e = 0; e < 4; ++e) {
    const double* a_row = av[e >> 1];
    const double* b_col = bv[e & 1];
    double s = d[e];  // C = D: each lane's accumulators are its own. TF32 products are exact in double; one rounding at the end
    for (int k = 0; k < 8; ++k) s += a_row[k] * b_col[k];
    d[e] = float(s);
  }
}

namespace {

// fp32 -> bf16 (the upper 16 bits), round to nearest, ties to even; NaN stays NaN (quiet).
uint16_t bf16_rn(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // a carry into the exponent is right
}

float bf16_value(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

uint32_t cvt_rn_bf16x2(float a, float b) { return uint32_t(bf16_rn(a)) << 16 | bf16_rn(b); }

void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  struct Frag {
    uint32_t a[4], b[2];
  };
  const Frag mine{{a[0], a[1], a[2], a[3]}, {b[0], b[1]}};
  counters_note(WarpInstr::hmma_bf16);
  const unsigned char* slots = warp_exchange(0xffffffffu, &mine, sizeof(Frag));
  // Half h (0: bits 0-15, 1: bits 16-31) of word w of lane l's Frag, as a bf16 value.
  auto bf16_half = [slots](int l, int w, int h) {
    uint32_t u;
    std::memcpy(&u, slots + size_t(l) * kWarpSlotBytes + size_t(w) * 4, 4);
    return bf16_value(uint16_t(h ? u >> 16 : u & 0xffffu));
  };
  // PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type" (.bf16), with
  // g = lane >> 2, t = lane % 4, two elements per register (the first in the lower half):
  //   A (16x16, row): a0 (g, 2t..2t+1), a1 (g+8, 2t..2t+1), a2 (g, 2t+8..2t+9), a3 (g+8, 2t+8..2t+9)
  //   B (16x8, col):  b0 (2t..2t+1, g), b1 (2t+8..2t+9, g)
  //   C/D (16x8):     as m16n8k8
  // so A[r][k] is half k % 2 of register (r >= 8) + 2 (k >= 8) of lane 4 (r % 8) + (k % 8) / 2,
  // and B[k][c] is half k % 2 of register (k >= 8) of lane 4 c + (k % 8) / 2.
  const int lane = lane_id(), g = lane >> 2, t = lane & 3;
  double av[2][16], bv[2][16];  // av[h][k] = A[g + 8h][k], bv[j][k] = B[k][2t + j], gathered once
  for (int k = 0; k < 16; ++k)
    for (int h = 0; h < 2; ++h) {
      av[h][k] = bf16_half(4 * g + (k % 8) / 2, h + (k >= 8 ? 2 : 0), k % 2);
      bv[h][k] = bf16_half(4 * (2 * t + h) + (k % 8) / 2, 4 + (k >= 8 ? 1 : 0), k % 2);
    }
  for (int e = 0; e < 4; ++e) {
    const double* a_row = av[e >> 1];
    const double* b_col = bv[e & 1];
    double s = d[e];  // bf16 products are exact in double; one rounding at the end
    for (int k = 0; k < 16; ++k) s += a_row[k] * b_col[k];
    d[e] = float(s);
  }
}

}  // namespace srgan::emu
