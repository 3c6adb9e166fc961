// The CUDA emulator's Hopper (sm_90a) instructions (see cuda_emu.h): the mbarrier, the bulk tensor
// copy (TMA, cp.async.bulk.tensor) with the driver's cuTensorMapEncodeTiled that describes its
// tensor, and the warpgroup matrix multiply (wgmma.mma_async, TF32, operands in shared memory).
// Written from the PTX ISA and the driver API's documentation, independently of the kernels'
// helpers (kernels/hopper_cuda.cuh), so a kernel that lays out its tiles differently from what
// those documents say fails here.
#include <cuda.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "tests/cuda_emu/cuda_emu.h"
#include "tests/cuda_emu/emu_internal.h"

namespace srgan::emu {
namespace {

// ---- the emulated tensor map: what cuTensorMapEncodeTiled was given, in the opaque 128 bytes ----
constexpr uint32_t kMapMagic = 0x544d4150u;  // "TMAP"
struct MapBody {
  uint32_t magic;
  uint32_t rank;
  const unsigned char* base;
  uint64_t dim[5];
  uint64_t stride[5];  // bytes; stride[0] is the element size
  uint32_t box[5];
};
static_assert(sizeof(MapBody) <= sizeof(CUtensorMap), "tensor map body too large");

CUresult CUDAAPI encode_tiled(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank, void* address,
                              const cuuint64_t* dims, const cuuint64_t* strides, const cuuint32_t* box,
                              const cuuint32_t* element_strides, CUtensorMapInterleave interleave,
                              CUtensorMapSwizzle swizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill oob) {
  // The driver's rules (cuda.h, cuTensorMapEncodeTiled) that apply to a float tensor without
  // interleave; the emulator knows only that case, and refuses the others.
  if (!map || rank < 1 || rank > 5 || !address || reinterpret_cast<uintptr_t>(address) % 16 != 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (type != CU_TENSOR_MAP_DATA_TYPE_FLOAT32 || interleave != CU_TENSOR_MAP_INTERLEAVE_NONE ||
      swizzle != CU_TENSOR_MAP_SWIZZLE_NONE || oob != CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE)
    return CUDA_ERROR_NOT_SUPPORTED;
  MapBody b{};
  b.magic = kMapMagic, b.rank = rank, b.base = static_cast<const unsigned char*>(address);
  b.stride[0] = 4;
  for (uint32_t i = 0; i < rank; ++i) {
    if (dims[i] == 0 || dims[i] > (uint64_t(1) << 32) || box[i] == 0 || box[i] > 256) return CUDA_ERROR_INVALID_VALUE;
    if (element_strides && element_strides[i] != 1) return CUDA_ERROR_NOT_SUPPORTED;
    b.dim[i] = dims[i], b.box[i] = box[i];
    if (i > 0) {
      if (strides[i - 1] % 16 != 0 || strides[i - 1] >= (uint64_t(1) << 40)) return CUDA_ERROR_INVALID_VALUE;
      b.stride[i] = strides[i - 1];
    }
  }
  if (box[0] * 4 % 16 != 0) return CUDA_ERROR_INVALID_VALUE;  // inner box a multiple of 16 bytes
  std::memset(map, 0, sizeof(CUtensorMap));
  std::memcpy(map, &b, sizeof b);
  return CUDA_SUCCESS;
}

// ---- per block: the copies in flight on each barrier, the wgmma groups of each thread ----------
struct BulkCopy {
  void* bar;
  unsigned char* dst;
  MapBody map;
  int c[4];
};
struct WgmmaOp {
  float* d;
  int n;
  uint64_t a, b;
  bool scale_d;
};
struct ThreadGroups {
  std::vector<WgmmaOp> open;
  std::deque<std::vector<WgmmaOp>> committed;  // oldest first
};
struct BlockHopper {
  uint64_t serial = ~uint64_t(0);
  std::vector<BulkCopy> copies;
  std::vector<ThreadGroups> threads;
};
thread_local BlockHopper tl_hopper;

// This block's state, reset when the host thread has moved on to another block.
BlockHopper& block_state() {
  BlockHopper& h = tl_hopper;
  const uint64_t s = block_serial();
  if (h.serial != s) {
    h.serial = s;
    h.copies.clear();
    h.threads.clear();
  }
  return h;
}

unsigned char* shared_base() {
  void* p = dynamic_shared();
  if (!p) kernel_fault("a Hopper shared-memory operand in a launch without dynamic shared memory");
  return static_cast<unsigned char*>(p);
}

// The mbarrier's 8 bytes.
struct Mbar {
  uint16_t left, count;
  uint32_t tx_phase;  // bits 0-30: transaction bytes outstanding; bit 31: the current phase's parity
};
Mbar* mbar_at(void* bar, const char* what) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(bar);
  const uintptr_t base = reinterpret_cast<uintptr_t>(shared_base());
  if (a % 8 != 0 || a < base || a + 8 > base + dynamic_shared_bytes())
    kernel_fault(std::string(what) + ": the mbarrier is not an 8-byte aligned object in shared memory");
  return static_cast<Mbar*>(bar);
}
uint32_t tx_of(const Mbar* m) { return m->tx_phase & 0x7fffffffu; }
uint32_t parity_of(const Mbar* m) { return m->tx_phase >> 31; }

// The phase completes when every arrival has come and every transaction byte has landed.
void maybe_complete(Mbar* m) {
  if (m->left != 0 || tx_of(m) != 0) return;
  m->left = m->count;
  m->tx_phase = (parity_of(m) ^ 1u) << 31;
}

uint64_t box_bytes(const MapBody& m) {
  uint64_t n = 4;
  for (uint32_t i = 0; i < m.rank; ++i) n *= m.box[i];
  return n;
}

// Lands one copy: the box, row by row (dimension 0 innermost); elements outside the tensor are 0.
void land(const BulkCopy& c) {
  const MapBody& m = c.map;
  const uint32_t b0 = m.box[0];
  int i[4] = {0, 0, 0, 0};
  unsigned char* out = c.dst;
  const uint32_t b1 = m.box[1], b2 = m.box[2], b3 = m.box[3];
  for (i[3] = 0; i[3] < int(b3); ++i[3])
    for (i[2] = 0; i[2] < int(b2); ++i[2])
      for (i[1] = 0; i[1] < int(b1); ++i[1]) {
        bool row_inside = true;
        int64_t off = 0;
        for (int d = 1; d < 4; ++d) {
          const int64_t x = int64_t(c.c[d]) + i[d];
          row_inside = row_inside && x >= 0 && x < int64_t(m.dim[d]);
          off += x * int64_t(m.stride[d]);
        }
        for (uint32_t e = 0; e < b0; ++e, out += 4) {
          const int64_t x = int64_t(c.c[0]) + e;
          if (row_inside && x >= 0 && x < int64_t(m.dim[0])) std::memcpy(out, m.base + off + x * 4, 4);
          else std::memset(out, 0, 4);
        }
      }
}

// Element k of row `row` of a K-major, unswizzled wgmma operand (PTX ISA, "Shared Memory Matrix
// Layout", K-major, no swizzle): core matrices of 8 rows x 16 bytes, a row's 16 bytes at 16-byte
// steps; the next 8 rows' core matrix at the stride byte offset, the next 16 bytes of K (4 TF32
// elements) at the leading byte offset. The tensor core reads the TF32 bits (the upper 19).
double tf32_operand(uint64_t desc, int row, int k) {
  const uint64_t start = (desc & 0x3fff) << 4, lbo = ((desc >> 16) & 0x3fff) << 4, sbo = ((desc >> 32) & 0x3fff) << 4;
  const unsigned base_offset = unsigned(desc >> 49) & 7u, swizzle = unsigned(desc >> 62);
  if (swizzle != 0 || base_offset != 0)
    kernel_fault("wgmma descriptor with a swizzle mode or base offset: the emulator knows only the unswizzled layout");
  const uint64_t at =
      start + uint64_t(row / 8) * sbo + uint64_t(row % 8) * 16 + uint64_t(k / 4) * lbo + uint64_t(k % 4) * 4;
  if (at + 4 > dynamic_shared_bytes()) kernel_fault("wgmma operand outside the dynamic shared memory");
  uint32_t u;
  std::memcpy(&u, shared_base() + at, 4);
  u &= 0xffffe000u;
  float f;
  std::memcpy(&f, &u, 4);
  return double(f);
}

// One m64nNk8 TF32 wgmma for the calling thread's accumulators (PTX ISA, "Register Fragments:
// wgmma .m64nNk8", D): warp w of the warpgroup holds rows 16 w .. 16 w + 15; with g = lane / 4
// and t = lane % 4, register i is row 16 w + g + 8 ((i / 2) % 2), column 8 (i / 4) + 2 t + i % 2.
void perform(const WgmmaOp& op, int warp_in_group, int lane) {
  const int g = lane >> 2, t = lane & 3;
  double a[2][8];  // this thread's two rows of A
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 8; ++k) a[h][k] = tf32_operand(op.a, 16 * warp_in_group + g + 8 * h, k);
  for (int j = 0; j < op.n / 8; ++j)
    for (int e = 0; e < 2; ++e) {
      double b[8];  // column 8 j + 2 t + e of B
      for (int k = 0; k < 8; ++k) b[k] = tf32_operand(op.b, 8 * j + 2 * t + e, k);
      for (int h = 0; h < 2; ++h) {
        float& d = op.d[4 * j + 2 * h + e];
        double s = op.scale_d ? double(d) : 0.0;  // TF32 products are exact in double; one rounding
        for (int k = 0; k < 8; ++k) s += a[h][k] * b[k];
        d = float(s);
      }
    }
}

ThreadGroups& my_groups(const char* what) {
  BlockHopper& h = block_state();
  const int t = current_thread_linear();
  if (int(blockDim.x * blockDim.y * blockDim.z) % 128 != 0)
    kernel_fault(std::string(what) + " in a block that is not whole warpgroups (a multiple of 128 threads)");
  if (h.threads.size() < size_t(t) + 1) h.threads.resize(size_t(t) + 1);
  return h.threads[size_t(t)];
}

}  // namespace

// The driver entry points a kernel's host code may ask the runtime for (emu_runtime_api.cpp).
void* driver_entry_point(const char* symbol) {
  if (std::strcmp(symbol, "cuTensorMapEncodeTiled") == 0) return reinterpret_cast<void*>(&encode_tiled);
  return nullptr;
}

uint32_t shared_address(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p), base = reinterpret_cast<uintptr_t>(shared_base());
  if (a < base || a >= base + dynamic_shared_bytes())
    kernel_fault("a shared-memory address outside the dynamic shared memory");
  return uint32_t(a - base);
}

void mbarrier_init(void* bar, int count) {
  Mbar* m = mbar_at(bar, "mbarrier.init");
  if (count < 1 || count > 0xffff) kernel_fault("mbarrier.init with a count out of range");
  m->left = m->count = uint16_t(count);
  m->tx_phase = 0;
  BlockHopper& h = block_state();
  for (const BulkCopy& c : h.copies)
    if (c.bar == bar) kernel_fault("mbarrier.init on a barrier with bulk copies in flight");
}

void mbarrier_arrive_expect_tx(void* bar, uint32_t bytes) {
  Mbar* m = mbar_at(bar, "mbarrier.arrive.expect_tx");
  if (m->count == 0) kernel_fault("mbarrier.arrive on a barrier never initialised");
  if (m->left == 0) kernel_fault("mbarrier.arrive with every arrival of the phase already made");
  if (uint64_t(tx_of(m)) + bytes > 0x7fffffffu) kernel_fault("mbarrier transaction count overflow");
  m->tx_phase += bytes;
  m->left -= 1;
  maybe_complete(m);
}

bool mbarrier_try_wait_parity(void* bar, uint32_t parity) {
  Mbar* m = mbar_at(bar, "mbarrier.try_wait");
  if (m->count == 0) kernel_fault("mbarrier.try_wait on a barrier never initialised");
  if (parity_of(m) != (parity & 1u)) return true;  // the phase of that parity has completed
  BlockHopper& h = block_state();
  std::vector<BulkCopy> rest;
  for (const BulkCopy& c : h.copies) {
    if (c.bar != bar) {
      rest.push_back(c);
      continue;
    }
    land(c);
    const uint64_t n = box_bytes(c.map);
    if (n > tx_of(m)) kernel_fault("a bulk copy completes more bytes than its mbarrier expects (expect_tx too small)");
    m->tx_phase -= uint32_t(n);
  }
  h.copies.swap(rest);
  maybe_complete(m);
  if (parity_of(m) != (parity & 1u)) return true;
  kernel_fault("mbarrier wait would wait forever: " + std::to_string(m->left) + " arrivals and " +
               std::to_string(tx_of(m)) + " transaction bytes missing after every copy issued on it has landed");
}

void cp_async_bulk_tensor_4d(void* dst, const void* tmap, const int (&c)[4], void* bar) {
  mbar_at(bar, "cp.async.bulk.tensor");
  MapBody m;
  std::memcpy(&m, tmap, sizeof m);
  if (m.magic != kMapMagic) kernel_fault("cp.async.bulk.tensor with a tensor map cuTensorMapEncodeTiled did not write");
  if (m.rank != 4) kernel_fault("cp.async.bulk.tensor.4d with a tensor map of rank " + std::to_string(m.rank));
  if (reinterpret_cast<uintptr_t>(dst) % 128 != 0)
    kernel_fault("cp.async.bulk.tensor destination not 128-byte aligned");
  const uint64_t bytes = box_bytes(m);
  const uintptr_t a = reinterpret_cast<uintptr_t>(dst), base = reinterpret_cast<uintptr_t>(shared_base());
  if (a < base || a + bytes > base + dynamic_shared_bytes())
    kernel_fault("cp.async.bulk.tensor box outside the dynamic shared memory");
  // The global side, for the counters: one 16-byte request per box row piece inside the tensor.
  if (counting()) {
    for (uint32_t i3 = 0; i3 < m.box[3]; ++i3)
      for (uint32_t i2 = 0; i2 < m.box[2]; ++i2)
        for (uint32_t i1 = 0; i1 < m.box[1]; ++i1) {
          const int64_t x1 = int64_t(c[1]) + i1, x2 = int64_t(c[2]) + i2, x3 = int64_t(c[3]) + i3;
          const bool inside = x1 >= 0 && x1 < int64_t(m.dim[1]) && x2 >= 0 && x2 < int64_t(m.dim[2]) && x3 >= 0 &&
                              x3 < int64_t(m.dim[3]);
          if (!inside) continue;
          const unsigned char* row =
              m.base + x1 * int64_t(m.stride[1]) + x2 * int64_t(m.stride[2]) + x3 * int64_t(m.stride[3]);
          for (uint32_t e = 0; e < m.box[0]; e += 4) {
            const int64_t x0 = int64_t(c[0]) + e;
            if (x0 >= 0 && x0 < int64_t(m.dim[0]))
              counters_record(MemKind::tma, __builtin_return_address(0), row + x0 * 4, 16);
          }
        }
  }
  std::memset(dst, 0xFF, bytes);  // NaN until it lands
  block_state().copies.push_back(BulkCopy{bar, static_cast<unsigned char*>(dst), m, {c[0], c[1], c[2], c[3]}});
}

void wgmma_fence() { my_groups("wgmma.fence"); }

void wgmma_commit() {
  ThreadGroups& g = my_groups("wgmma.commit_group");
  g.committed.push_back(std::move(g.open));
  g.open.clear();
}

void wgmma_wait(int n) {
  ThreadGroups& g = my_groups("wgmma.wait_group");
  const int t = current_thread_linear();
  while (int(g.committed.size()) > n) {
    for (const WgmmaOp& op : g.committed.front()) perform(op, (t / 32) % 4, t % 32);
    g.committed.pop_front();
  }
}

void wgmma_m64k8_tf32(float* d, int n, uint64_t desc_a, uint64_t desc_b, bool scale_d) {
  if (n < 8 || n > 256 || n % 8 != 0) kernel_fault("wgmma m64nNk8 with N = " + std::to_string(n));
  counters_note_wgmma(64.0 * n * 8);
  my_groups("wgmma.mma_async").open.push_back(WgmmaOp{d, n, desc_a, desc_b, scale_d});
}

}  // namespace srgan::emu
