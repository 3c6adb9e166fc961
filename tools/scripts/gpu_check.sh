#!/usr/bin/env bash
# The one script for a lent GPU (H100, Ubuntu 24.04, CUDA 13, cuDNN 9, PyTorch): builds for
# sm_90, runs the CUDA tests, the kernel benchmark and the PyTorch anchors in one call, writes
# logs under $OUT and prints a short table last. Every stage is time-boxed and the whole script
# keeps to DEADLINE_S (default 400 s, under 7 minutes); stages that no longer fit are skipped
# and say so. Priority order: build, CUDA tests (a CUDA test that reports skipped on a machine
# with a GPU is a failure), kernel benchmark at the goal shapes (each variant's result checked
# against cuDNN / cuBLAS before its time counts), the PyTorch anchors, whole steps, Nsight
# Compute sections of the conv kernels (one call each, beside `bench counters`' estimates), a
# short compute-sanitizer memcheck + racecheck of the conv and GEMM tests at small shapes, the
# NCCL path, the full test suite, the full benchmark, memcheck of the other CUDA tests.
#
# Before the call, on the development machine:  tools/scripts/prepare_gpu_carry.sh
# Then the device tool:  run(command="bash tools/scripts/gpu_check.sh", carry=[".carry"], timeout_s=540)
#
# Files under $OUT (8 at most come back): summary.txt build.log tests.log (ctest, the NCCL run,
# the sanitizers) bench.log (kernels and steps) bench.json anchor.log anchors.json ncu.log.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
DEADLINE=${DEADLINE_S:-400}
BUILD=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-$(nproc)}
SECONDS=0
declare -A status

note() { echo "[gpu_check ${SECONDS}s] $*" | tee -a "$OUT/summary.txt" >&2; }
# budget MAX MIN: seconds this stage may take (at most MAX), or 0 when fewer than MIN remain.
budget() {
  local left=$((DEADLINE - SECONDS - 10))
  if [ "$left" -lt "$2" ]; then echo 0; elif [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
# run_stage NAME MAX MIN LOG CMD...: time-boxed, output appended to LOG, status recorded.
run_stage() {
  local name=$1 max=$2 min=$3 log=$4; shift 4
  local t; t=$(budget "$max" "$min")
  if [ "$t" -eq 0 ]; then status[$name]="skipped (no time left)"; note "$name: skipped, no time left"; return 1; fi
  note "$name: start (time box ${t}s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$t" "$@" >>"$log" 2>&1
  local rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status[$name]="TIMED OUT after ${t}s"
  elif [ $rc -eq 0 ]; then status[$name]="ok ($((SECONDS - t0))s)"
  else status[$name]="FAILED rc=$rc ($((SECONDS - t0))s)"; fi
  note "$name: ${status[$name]}"
  return $rc
}

: >"$OUT/summary.txt"
note "host $(hostname), $(nproc) cores; $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
note "nvcc: $($NVCC --version 2>/dev/null | tail -1)"
# What the configure step needs besides CUDA (none of it can be installed there: no network).
have() { if eval "$2" >/dev/null 2>&1; then echo "$1 yes"; else echo "$1 NO"; fi; }
any_exists() { local f; for f in "$@"; do [ -e "$f" ] && return 0; done; return 1; }
note "deps: $(have pkg-config 'command -v pkg-config'), $(have nlohmann_json 'any_exists /usr/include/nlohmann/json.hpp /usr/local/include/nlohmann/json.hpp'), $(have catch2 'any_exists /usr/include/catch2 /usr/local/include/catch2'), $(have openblas 'pkg-config --exists openblas'), $(have cudnn.h 'any_exists /usr/include/x86_64-linux-gnu/cudnn.h /usr/include/cudnn.h /usr/local/cuda/include/cudnn.h'), $(have zlib.h 'any_exists /usr/include/zlib.h'), $(have jpeglib.h 'any_exists /usr/include/jpeglib.h /usr/include/x86_64-linux-gnu/jpeglib.h')"

# ---- configure and build ------------------------------------------------------------------------
if [ ! -f .carry/stb/stb_image.h ] || [ ! -d .carry/bench ]; then
  note "missing .carry/ (run tools/scripts/prepare_gpu_carry.sh here and pass carry=[\".carry\"]); the build will fail without stb"
fi
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
json=()  # the carried nlohmann headers, only when the machine has no nlohmann_json package
if ! any_exists /usr/include/nlohmann/json.hpp /usr/local/include/nlohmann/json.hpp && [ -f .carry/json/nlohmann/json.hpp ]; then
  json=(-DSRGAN_JSON_DIR="$PWD/.carry/json")
  note "nlohmann_json: using the carried headers in .carry/json"
fi
zlib=()  # the carried zlib headers and the runtime libz.so.1, only when zlib1g-dev is absent there
if ! any_exists /usr/include/zlib.h && [ -f .carry/zlib/zlib.h ]; then
  libz=$(ls /usr/lib/x86_64-linux-gnu/libz.so.1 /lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1)
  zlib=(-DZLIB_INCLUDE_DIR="$PWD/.carry/zlib" -DZLIB_LIBRARY="$libz")
  note "zlib: using the carried headers in .carry/zlib with $libz"
fi
jpeg=()  # Debian's libjpeg-turbo, carried, only when the machine has no jpeglib.h (libjpeg-turbo8-dev)
if ! any_exists /usr/include/jpeglib.h /usr/include/x86_64-linux-gnu/jpeglib.h && [ -f .carry/jpeg/include/jpeglib.h ]; then
  jpeg=(-DJPEG_INCLUDE_DIR="$PWD/.carry/jpeg/include" -DJPEG_LIBRARY="$PWD/.carry/jpeg/lib/libjpeg.so.62")
  note "jpeg: using the carried libjpeg-turbo in .carry/jpeg"
fi
run_stage configure 90 20 "$OUT/build.log" \
  cmake -S . -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$NVCC" \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DSRGAN_STB_DIR="$PWD/.carry/stb" -DSRGAN_CUDA_EMU=OFF "${json[@]}" "${zlib[@]}" "${jpeg[@]}"
grep -E "^-- SRGAN" "$OUT/build.log" >&2
[[ "${status[configure]:-}" == ok* ]] || tail -30 "$OUT/build.log" >&2  # the CMake error, in the reply's output tail
# Without OpenBLAS the double-precision CPU references of the big test shapes fall back to plain
# loops (minutes per shape: the CUDA tests would time out); then test the small shapes only.
cuda_test_env=()
if grep -q "OpenBLAS not found" "$OUT/build.log"; then
  cuda_test_env=(env SRGAN_TEST_SMALL=1)
  note "OpenBLAS not found: CUDA tests run with SRGAN_TEST_SMALL=1 (small shapes only)"
fi
cuda_targets=$(ls tests/cuda/test_*.cpp 2>/dev/null | sed -E 's#.*/(test_[a-z0-9_]+)\.cpp$#cuda_\1#' | tr '\n' ' ')
ok() { [[ "${status[$1]:-}" == ok* ]]; }
if ok configure; then
  # First what the CUDA tests and the benchmark need, then everything else.
  run_stage build_cuda 200 60 "$OUT/build.log" cmake --build "$BUILD" -j"$JOBS" --target srgan $cuda_targets
  tail -5 "$OUT/build.log" >&2
fi
built() { ok build_cuda; }

# ---- CUDA tests ---------------------------------------------------------------------------------
if built; then
  run_stage ctest_cuda 120 30 "$OUT/tests.log" "${cuda_test_env[@]}" ctest --test-dir "$BUILD" -L cuda --output-on-failure -j8
  tail -25 "$OUT/tests.log" >&2
  # A CUDA test skips (exit code 4) when it finds no GPU: here that would hide a broken driver,
  # a build without CUDA or a test that never ran, so with a GPU present it fails the stage.
  skipped=$(grep -c '\*\*\*Skipped' "$OUT/tests.log")
  if nvidia-smi -L 2>/dev/null | grep -q '^GPU' && [ "$skipped" -gt 0 ]; then
    status[ctest_cuda]="FAILED: $skipped CUDA test(s) reported skipped on a machine with a GPU"
    note "ctest_cuda: ${status[ctest_cuda]}"
  fi
fi

# ---- kernel benchmark, goal shapes ----------------------------------------------------------------
if built; then
  run_stage bench_quick 70 30 "$OUT/bench.log" "$BUILD/tools/srgan" bench kernels --quick --json "$OUT/bench.json"
fi

# ---- PyTorch anchors (same card, same call, before the long stages) -------------------------------
if [ -f .carry/bench/anchor_gpu.py ]; then
  t=$(budget 150 60)
  if [ "$t" -gt 0 ]; then
    # The script skips whole training modes when its own budget runs low; leave it 40 s of slack.
    run_stage anchor "$t" 60 "$OUT/anchor.log" \
      env PYTHONUNBUFFERED=1 OUT="$OUT" BUDGET_S=$((t - 40)) python3 .carry/bench/anchor_gpu.py
  else
    status[anchor]="skipped (no time left)"
  fi
else
  status[anchor]="skipped (.carry/bench/anchor_gpu.py missing)"
fi

# ---- whole steps -----------------------------------------------------------------------------------
if built; then
  # Whole steps (SRResNet MSE, SRGAN with VGG54, inference 510->2040): the anchors' work, ours.
  # fp32, TF32 and BF16 (v5: bf16 operands, fp32 storage), eager and CUDA-graph rows; printed as
  # measured, so a time-out keeps what finished.
  run_stage bench_steps 110 25 "$OUT/bench.log" "$BUILD/tools/srgan" bench steps --device cuda --repeats 10
fi


# ---- Nsight Compute: one call of every tile-GEMM and halo conv kernel at the goal shapes -------------
# The hardware's own counts (duration, throughputs, sectors per request, shared wavefronts, pipe
# use, occupancy) for the kernels whose estimates docs/performance.md gives (`srgan bench
# counters`, same definitions). --once: each row called once, so each kernel is profiled a few
# times, not 50. Clocks left alone (METHOD.md).
if built && command -v ncu >/dev/null; then
  run_stage ncu_conv 100 40 "$OUT/ncu.log" ncu --clock-control none -k 'regex:tile_gemm|narrow_n|splitk_reduce|halo' \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables \
    --section ComputeWorkloadAnalysis --section InstructionStats --section Occupancy --section LaunchStats \
    "$BUILD/tools/srgan" bench kernels --quick --once --filter conv2d
  # The 3-channel ends, which --quick leaves out: the generator's 9x9 head and tail and the
  # discriminator's first layer, all three passes (the narrow-C, tail and narrow-N kernels).
  run_stage ncu_narrow 80 30 "$OUT/ncu.log" ncu --clock-control none -k 'regex:narrow|tail|splitk_reduce' \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables \
    --section ComputeWorkloadAnalysis --section InstructionStats --section Occupancy --section LaunchStats \
    "$BUILD/tools/srgan" bench kernels --once --filter conv2d --shape '9x9|x3 '
else
  status[ncu_conv]="skipped (no ncu, or the build failed)"
fi

# ---- compute-sanitizer, short: memcheck and racecheck of the conv and GEMM tests (small shapes) -----
sanitize() {  # sanitize TOOL TEST: one time-boxed stage
  run_stage "$1_$2" 45 20 "$OUT/tests.log" \
    env SRGAN_TEST_SMALL=1 compute-sanitizer --tool "$1" --error-exitcode 9 "$BUILD/tests/$2"
}
# The conv tests (the halo paths in their own file since test_conv2d.cpp was split), then conv2d v8
# (wgmma + the bulk tensor copy: its tests are a few launches).
first_sanitized="cuda_test_conv2d cuda_test_conv2d_halo cuda_test_gemm cuda_test_conv2d_wgmma"
if built && command -v compute-sanitizer >/dev/null; then
  for t in $first_sanitized; do sanitize memcheck "$t"; sanitize racecheck "$t"; done
fi

# ---- data parallelism: the NCCL all-reduce with one rank (NCCL cannot put two ranks on one GPU) ----
if built && command -v mpirun >/dev/null && grep -q "NCCL ON" "$OUT/build.log"; then
  mkdir -p "$BUILD/nccl_data" && cp tests/fixtures/data/metrics_hr.png "$BUILD/nccl_data/" && rm -rf "$BUILD/nccl_run"
  run_stage nccl_one_rank 40 15 "$OUT/tests.log" env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun -np 1 "$BUILD/tools/srgan" train --data "$BUILD/nccl_data" --device cuda --phase gan --blocks 2 --width 16 \
    --d-width 8 --batch 2 --crop 32 --steps 6 --accum 2 --log-every 1 --val-every 0 --out "$BUILD/nccl_run"
else
  status[nccl_one_rank]="skipped (no mpirun, or the build found no MPI/NCCL)"
fi

# ---- the rest of the test suite --------------------------------------------------------------------
if built; then
  run_stage build_all 120 40 "$OUT/build.log" cmake --build "$BUILD" -j"$JOBS"
  if ok build_all; then
    run_stage ctest_all 90 20 "$OUT/tests.log" ctest --test-dir "$BUILD" -LE "cuda|emu_orders" --output-on-failure -j"$JOBS" --timeout 60
    tail -5 "$OUT/tests.log" >&2
  fi
fi

# ---- full benchmark, if time remains (overwrites bench.json only when it completes) -----------------
if built; then
  if run_stage bench_full 120 60 "$OUT/bench.log" "$BUILD/tools/srgan" bench kernels --json "$BUILD/bench_full.json"; then
    cp "$BUILD/bench_full.json" "$OUT/bench.json"
  fi
fi

# ---- memcheck of the other CUDA tests on their small shapes, if time remains ------------------------
memcheck_tests="cuda_test_prelu cuda_test_batchnorm cuda_test_pixel_shuffle cuda_test_maxpool cuda_test_adam cuda_test_reduce cuda_test_linear"
if built && command -v compute-sanitizer >/dev/null; then
  for t in $memcheck_tests; do sanitize memcheck "$t"; done
fi

# ---- short table -------------------------------------------------------------------------------------
{
  echo
  echo "==== gpu_check summary ($(date -u +%Y-%m-%dT%H:%MZ), ${SECONDS}s) ===="
  for k in configure build_cuda ctest_cuda bench_quick anchor bench_steps ncu_conv ncu_narrow \
           $(for t in $first_sanitized; do printf 'memcheck_%s racecheck_%s ' "$t" "$t"; done) nccl_one_rank build_all ctest_all \
           bench_full $(printf 'memcheck_%s ' $memcheck_tests); do
    printf '  %-34s %s\n' "$k" "${status[$k]:-not run}"
  done
  grep -E "tests passed|tests failed|Failed|\(Failed\)|\(Skipped\)|ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/tests.log" 2>/dev/null | head -25 | sed 's/^/  /'
  echo "  whole steps and inference (srgan bench steps, ms):"
  grep -E "^(srresnet_mse_step|srgan_step|infer_)" "$OUT/bench.log" 2>/dev/null | sed 's/^/    /'
  python3 - "$OUT/bench.json" "$OUT/anchors.json" <<'PY' 2>&1 || true
import json, sys
def load(p):
    try:
        return json.load(open(p))
    except Exception as e:
        print(f"  ({p}: {e})")
        return None
b, a = load(sys.argv[1]), load(sys.argv[2])
if b:
    pk = b.get("peaks", {})
    print(f"  {b.get('device')}: copy {pk.get('copy_GBps', 0):.0f} GB/s, cuBLAS fp32 {pk.get('cublas_fp32_TFLOPs', 0):.1f} / TF32 {pk.get('cublas_tf32_TFLOPs', 0):.1f} TFLOP/s")
    print(f"  {'op':24} {'shape':24} {'variant':22} {'ms':>8} {'%peak':>6} {'speedup':>7} {'torch':>7} {'err':>8}")
    goal_shapes = {"16x24x24x64 3x3->64", "16x96x96x64 3x3->64", "16x96x96x64", "16x96x96x256 r2"}
    for r in b.get("rows", []):
        if r["shape"] not in goal_shapes or r["op"].startswith(("batchnorm eval", "leaky", "maxpool", "add", "sum")):
            continue
        if "error" in r:
            print(f"  {r['op']:24} {r['shape']:24} {r['variant']:22} FAILED {r['error'][:60]}")
            continue
        sp = f"{r['speedup']:.2f}x" if "speedup" in r else "-"
        an = f"{r['torch_anchor_ms']:.3f}" if "torch_anchor_ms" in r else "-"
        err = "ref" if r.get("reference") else (f"{r['max_err']:.1e}" if "max_err" in r else "-")
        print(f"  {r['op']:24} {r['shape']:24} {r['variant']:22} {r['ms']:8.4f} {r['pct_peak']:5.1f}% {sp:>7} {an:>7} {err:>8}")
if a:
    print("  PyTorch anchors (same card):", {k: round(v, 1) for k, v in a.items() if k.startswith("ceil")})
    for m, row in a.get("steps", {}).items():
        print(f"    {m}: " + " ".join(f"{k}={v:.2f}" for k, v in row.items()))
    for k, v in a.get("ops_fp32", {}).items():
        print(f"    {k}: " + " ".join(f"{x}={y:.4g}" for x, y in v.items()))
PY
} | tee -a "$OUT/summary.txt"
case "${status[ctest_cuda]:-}" in ok*) exit 0 ;; *) exit 1 ;; esac
