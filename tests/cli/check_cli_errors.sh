#!/usr/bin/env bash
# ctest `cli_errors`: the `srgan` command line against hostile or careless use, as a user types
# it. Each case runs the real binary and checks its exit status, its message and what is on disk.
# usage: check_cli_errors.sh SRGAN_BINARY FIXTURE_DIR WORK_DIR
set -uo pipefail
srgan=$1 fixtures=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
failures=0

# expect NAME WANT_STATUS WANT_TEXT -- COMMAND...: runs COMMAND, checks status (0 / nonzero) and
# that its output (stdout + stderr) contains WANT_TEXT.
expect() {
  local name=$1 want=$2 text=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  local ok=1
  if [ "$want" = 0 ] && [ $status -ne 0 ]; then ok=0; fi
  if [ "$want" != 0 ] && [ $status -eq 0 ]; then ok=0; fi
  case "$out" in *"$text"*) ;; *) ok=0 ;; esac
  if [ $ok = 1 ]; then
    echo "ok: $name"
  else
    echo "FAILED: $name (exit $status, wanted $( [ "$want" = 0 ] && echo 0 || echo nonzero ) and \"$text\")"
    echo "$out" | sed 's/^/    /'
    failures=$((failures + 1))
  fi
}

cp "$fixtures/crop_rgb_24x20.png" "$work/a.png"
a_sum=$(cksum < "$work/a.png")

expect "--lr nan is refused" 1 "finite number" -- \
  "$srgan" train --data "$work" --lr nan --steps 1 --out "$work/run_nan"
expect "--threads beyond the cores is capped, with a warning" 0 "cores: using" -- \
  "$srgan" upscale "$work/a.png" -o "$work/threads.png" --threads 100000 --tile 16
expect "-o naming the input is refused" 1 "never overwrites an input" -- \
  "$srgan" upscale "$work/a.png" -o "$work/a.png" --overwrite
[ "$(cksum < "$work/a.png")" = "$a_sum" ] || { echo "FAILED: the input changed"; failures=$((failures + 1)); }
expect "an existing output needs --overwrite" 1 "--overwrite" -- \
  "$srgan" upscale "$work/a.png" -o "$work/threads.png"
expect "-o /dev/null writes through the device" 0 "/dev/null" -- \
  "$srgan" upscale "$work/a.png" -o /dev/null --tile 16
[ -c /dev/null ] || { echo "FAILED: /dev/null is no longer a device"; failures=$((failures + 1)); }
expect "--precision tf32 on the CPU is refused" 1 "computes in fp32 only" -- \
  "$srgan" upscale "$work/a.png" -o "$work/tf32.png" --device cpu --precision tf32
expect "--precision bf16 on the CPU is refused" 1 "computes in fp32 only" -- \
  "$srgan" train --data "$work" --device cpu --precision bf16 --steps 1 --out "$work/run_bf16"
expect "an unknown --precision names the choices" 1 "must be fp32, tf32 or bf16" -- \
  "$srgan" upscale "$work/a.png" -o "$work/fp16.png" --precision fp16
expect "bench steps' --precision names its choices" 2 "fp32, tf32, bf16 or all" -- \
  "$srgan" bench steps --device cpu --precision both
[ ! -e "$work/tf32.png" ] && [ ! -e "$work/fp16.png" ] || { echo "FAILED: a refused run wrote its output"; failures=$((failures + 1)); }
mkdir -p "$work/eval"
cp "$fixtures/metrics_hr.png" "$work/eval/"
expect "--json /dev/stdout prints the JSON" 0 '"mean"' -- \
  "$srgan" eval --data "$work/eval" --method bicubic --json /dev/stdout
expect "the JSON carries the artefact metrics" 0 '"colour_shift": [' -- \
  "$srgan" eval --data "$work/eval" --method bicubic --json /dev/stdout
leftovers=$(find "$work" -name '.*.tmp.*' | wc -l)
[ "$leftovers" = 0 ] || { echo "FAILED: $leftovers temporary files left"; failures=$((failures + 1)); }

echo "$failures failure(s)"
[ $failures = 0 ]
