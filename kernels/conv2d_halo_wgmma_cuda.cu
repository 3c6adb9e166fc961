// conv2d v8 (see conv2d_halo_wgmma.h): the 3x3 stride-1 halo tile gathering 64 channels on wgmma
// and TMA, 64 outputs a block (a slice of the filters: blockIdx.y).
// Built for sm_90a only (kernels/CMakeLists.txt); the host runs it only on a device of compute
// capability 9.0.
//
// The computation is v6's (conv2d_halo_cuda.cuh): a block keeps its 64 filters in shared memory
// for its life (a persistent grid), walks 16 x 16 output tiles, and every tap (r, s) reads its A
// operand from the tile's 18 x 18 input halo shifted by (r, s). What changes is who moves and who
// multiplies:
//   * the halo arrives by the bulk tensor copy engine: one thread issues, per 4-channel plane,
//     a cp.async.bulk.tensor of the box (4 channels, 18 columns, 18 rows, 1 image) of a 4-D
//     tensor map over x (C, W, H, N); outside the image the engine writes zeros (the padding), and
//     the block waits on an mbarrier for the bytes, not on 256 threads' copies;
//   * wgmma.m64n64k8 (TF32) multiplies a warpgroup's 64 pixels x 8 channels by 64 filters x 8
//     channels straight from shared memory: no ldmatrix, no fragments in registers.
// Layouts ("K-major, no swizzle" core matrices of 8 rows x 16 bytes, hopper_cuda.cuh):
//   halo   [2 stages][8 planes][328 pixels][4 floats]: stage h holds channels 32 h .. 32 h + 31,
//          plane q channels 32 h + 4 q .. + 3 of the 324 halo pixels (row-major, 18 a row; the
//          plane padded to 328 pixels so each starts 128-byte aligned, as TMA requires). 8
//          consecutive pixels of a plane are one core matrix; the next 4 channels are the next
//          plane (leading byte offset 5,248); the next output row is 18 pixels on (stride byte
//          offset 288). So the A operand of tap (r, s) for output rows y0 .. y0 + 7, columns
//          x0 .. x0 + 7, is one descriptor: start at pixel (y0 + r, x0 + s).
//   w      [144 k-chunks][64 filters][4 floats], k = (r, s, c) as stored (KRSC): filters 8 f ..
//          8 f + 7 of a chunk are one core matrix (stride byte offset 128), the next 4 of k the
//          next chunk (leading byte offset 1,024). 147,456 bytes.
//   block  256 threads, 2 warpgroups; warpgroup g computes output rows 8 g .. 8 g + 7 of the tile
//          as two m64 tiles (columns 0-7 and 8-15) x 64 channels: 64 fp32 accumulators a thread.
//   order  per tile, per stage: wait for its bytes, 9 taps x 4 k8 steps x 2 wgmma, wait for
//          them, a barrier, and the stage is refilled with the next tile's channels: the copy of
//          the next tile's first half overlaps this tile's second half and epilogue.
// TF32 by truncation (the tensor core reads the upper 19 bits of each float), like v4 and v6.
#include "kernels/conv2d_halo_wgmma.h"

#include <cuda.h>
#include <cudaTypedefs.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"
#include "kernels/cuda_util.cuh"
#include "kernels/hopper_cuda.cuh"

namespace srgan::kern::cuda::halo_wgmma {

namespace hp = hopper;

constexpr int kC = 64;                          // gathered channels (the reduction of a tap)
constexpr int kN = 64;                          // output channels a block (one slice)
constexpr int kTile = 16, kHalo = kTile + 2;    // 16 x 16 output tile, 18 x 18 input halo
constexpr int kPlanePix = 328;                  // 324 halo pixels, padded to a 128-byte multiple
constexpr int kPlaneBytes = kPlanePix * 16;     // 5,248
constexpr int kPlanes = 8;                      // 4-channel planes per stage
constexpr int kStageBytes = kPlanes * kPlaneBytes;               // 41,984
constexpr int kStageTx = kPlanes * kHalo * kHalo * 16;           // 41,472 bytes the copies bring
constexpr int kWBytes = kN * 9 * kC * 4;                         // 147,456
constexpr int kSmemBytes = 2 * kStageBytes + kWBytes + 16 + 128;  // + 2 mbarriers + alignment slack
constexpr int kThreads = 256;
static_assert(kSmemBytes <= 232448, "over sm_90's 227 KiB of shared memory per block");

template <bool FLIP, class Epi>
__global__ void __launch_bounds__(kThreads, 1)
    conv3x3_halo_wgmma_kernel(const __grid_constant__ CUtensorMap xmap, Params p, Epi epi, int tiles_w, int tiles_img,
                              int tiles) {
  extern __shared__ __align__(128) unsigned char smem_raw[];
  unsigned char* const smem =
      reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(smem_raw) + 127) & ~uintptr_t(127));
  unsigned char* const halo = smem;                                    // [2][8][328][16 B]
  unsigned char* const wsm = smem + 2 * kStageBytes;                   // [144][64][16 B]
  uint64_t* const full = reinterpret_cast<uint64_t*>(wsm + kWBytes);  // [2]: stage h's bytes landed
  const int tid = int(threadIdx.x), wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;

  // One thread fills stage h with channels 32 h .. 32 h + 31 of tile t's halo.
  auto fill = [&](int t, int h) {
    const int img = t / tiles_img, rem = t - img * tiles_img;
    const int ty = rem / tiles_w, tx = rem - ty * tiles_w;
    hp::mbarrier_arrive_expect_tx(&full[h], kStageTx);
#pragma unroll 1
    for (int q = 0; q < kPlanes; ++q)
      hp::tma_load_4d(halo + h * kStageBytes + q * kPlaneBytes, &xmap, 4 * (kPlanes * h + q), tx * kTile - p.pad,
                      ty * kTile - p.pad, img, &full[h]);
  };
  if (tid == 0) {
    hp::mbarrier_init(&full[0], 1);
    hp::mbarrier_init(&full[1], 1);
    hp::fence_barrier_init();
  }
  __syncthreads();
  if (tid == 0 && int(blockIdx.x) < tiles) fill(int(blockIdx.x), 0), fill(int(blockIdx.x), 1);

  // The slice's filters, once: float4 j of filter n (k = 4 j .. 4 j + 3) to chunk j, row n.
  const int n0 = int(blockIdx.y) * kN;  // the slice's first output channel
  const float* const wslice = p.w + int64_t(n0) * 9 * kC;
  for (int i = tid; i < kN * 9 * kC / 4; i += kThreads) {
    const int n = i / (9 * kC / 4), j = i - n * (9 * kC / 4);
    const float4 v = ld4(wslice, i);
    *reinterpret_cast<float4*>(wsm + j * (kN * 16) + n * 16) = v;
  }
  hp::fence_proxy_async();  // the filters, written by ordinary stores, are read by wgmma
  __syncthreads();

  const uint32_t halo_at = hp::shared_u32(halo), w_at = hp::shared_u32(wsm);
  float acc[2][32];
  int round = 0;  // tiles done by this block: the parity of the stages' barriers
  for (int t = int(blockIdx.x); t < tiles; t += int(gridDim.x), ++round) {
#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
      for (int i = 0; i < 32; ++i) acc[m][i] = 0.f;
#pragma unroll 1
    for (int h = 0; h < 2; ++h) {
      hp::mbarrier_wait(&full[h], uint32_t(round & 1));
      hp::wgmma_fence();
      // The main loop: 9 taps x 4 k8 steps x 2 m64 tiles.
#pragma unroll 1
      for (int tap = 0; tap < 9; ++tap) {
        const int r = tap / 3, s = tap - 3 * r, wtap = FLIP ? 8 - tap : tap;
        // A: pixel (8 wg + r, 8 m + s) of plane 2 kk; B: k-chunk (wtap, 32 h + 8 kk) / 4.
        const uint32_t a0 = halo_at + h * kStageBytes + ((8 * wg + r) * kHalo + s) * 16;
        const uint32_t b0 = w_at + (wtap * (kC / 4) + kPlanes * h) * (kN * 16);
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
          const uint64_t b = hp::wgmma_desc(b0 + 2 * kk * (kN * 16), kN * 16, 8 * 16);
#pragma unroll
          for (int m = 0; m < 2; ++m) {
            const uint64_t a = hp::wgmma_desc(a0 + 2 * kk * kPlaneBytes + 8 * m * 16, kPlaneBytes, kHalo * 16);
            hp::wgmma_m64n64k8_tf32(acc[m], a, b);
          }
        }
      }
      hp::wgmma_commit();
      hp::wgmma_wait<0>();
      __syncthreads();  // both warpgroups are done reading stage h
      if (tid == 0 && t + int(gridDim.x) < tiles) fill(t + int(gridDim.x), h);
    }
    // Epilogue: register i of m64 tile m is row 16 warp + g + 8 ((i / 2) % 2) of the tile (output
    // row 8 wg + 2 warp + (i / 2) % 2, column 8 m + g), channel 8 (i / 4) + 2 t + i % 2.
    const int img = t / tiles_img, rem = t - img * tiles_img;
    const int ty = rem / tiles_w, tx = rem - ty * tiles_w;
    const int g = lane >> 2, tq = lane & 3;
#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
      for (int i = 0; i < 32; ++i) {
        const int oy = ty * kTile + 8 * wg + 2 * warp + ((i >> 1) & 1), ox = tx * kTile + 8 * m + g;
        if (oy < p.Hout && ox < p.Wout)
          epi((img * p.Hout + oy) * p.Wout + ox, n0 + 8 * (i >> 2) + 2 * tq + (i & 1), acc[m][i], 0);
      }
  }
}

// cuTensorMapEncodeTiled, from the driver through the runtime (no link against libcuda).
static PFN_cuTensorMapEncodeTiled_v12000 encoder() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
      f = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

// x (N, H, W, 64) as a 4-D tensor (C, W, H, N), boxes of 4 channels x 18 x 18 x 1.
static CUtensorMap halo_map(const Params& p) {
  CUtensorMap map;
  const cuuint64_t dims[4] = {cuuint64_t(kC), cuuint64_t(p.Win), cuuint64_t(p.Hin), cuuint64_t(p.N)};
  const cuuint64_t strides[3] = {cuuint64_t(kC) * 4, cuuint64_t(p.Win) * kC * 4, cuuint64_t(p.Hin) * p.Win * kC * 4};
  const cuuint32_t box[4] = {4, kHalo, kHalo, 1}, ones[4] = {1, 1, 1, 1};
  const CUresult r =
      encoder()(&map, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 4, const_cast<float*>(p.x), dims, strides, box, ones,
                CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error("conv2d v8: cuTensorMapEncodeTiled failed (CUresult " + std::to_string(int(r)) +
                             ") for an input of " + std::to_string(p.N) + " x " + std::to_string(p.Hin) + " x " +
                             std::to_string(p.Win) + " x 64");
  return map;
}

bool runs_here() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess)
    return false;
  return major == 9 && minor == 0 && smem_optin_bytes() >= kSmemBytes && encoder() != nullptr;
}

bool applies(int R, int S, int stride, int cin, int nout, const void* x, const void* w) {
  return R == 3 && S == 3 && stride == 1 && cin == kC && nout >= kN && nout % kN == 0 && tg::is_aligned16(x) &&
         tg::is_aligned16(w);
}

template <bool FLIP>
void launch(const Params& p, const tg::BiasActEpi& epi, int sms, cudaStream_t s) {
  const int tiles_w = (p.Wout + kTile - 1) / kTile, tiles_img = (p.Hout + kTile - 1) / kTile * tiles_w;
  const int tiles = p.N * tiles_img;
  if (tiles < 1) return;
  const CUtensorMap map = halo_map(p);
  allow_dynamic_smem<&conv3x3_halo_wgmma_kernel<FLIP, tg::BiasActEpi>>(kSmemBytes);
  // About one block an SM in all, split over the slices, each slice's blocks an equal share of
  // the tiles (as v6's grid_for).
  const int slices = p.Nout / kN, per_slice = std::max(1, std::min(tiles, sms / slices));
  const int waves = (tiles + per_slice - 1) / per_slice;
  const dim3 grid(unsigned((tiles + waves - 1) / waves), unsigned(slices));
  conv3x3_halo_wgmma_kernel<FLIP, tg::BiasActEpi>
      <<<grid, kThreads, kSmemBytes, s>>>(map, p, epi, tiles_w, tiles_img, tiles);
  SRGAN_LAUNCH_CHECK(s);
}

template void launch<false>(const Params&, const tg::BiasActEpi&, int, cudaStream_t);
template void launch<true>(const Params&, const tg::BiasActEpi&, int, cudaStream_t);

}  // namespace srgan::kern::cuda::halo_wgmma
