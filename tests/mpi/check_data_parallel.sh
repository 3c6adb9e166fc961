#!/usr/bin/env bash
# ctest `mpi_data_parallel` (label mpi): `mpirun -np 2 srgan train` on the CPU against one process.
#   1-2. pretrain and GAN phase: 2 ranks end with the weights of one process with --accum 2
#   3.   a 2-rank run stopped and resumed ends bit for bit where an uninterrupted 2-rank run does
#   4.   --sync-bn on 2 ranks of batch 2 equals one process with batch 4 (same samples, same BN batch)
#   5.   SIGTERM to one rank: both stop at the same step, rank 0 writes the checkpoint, resume finishes
#   6.   an error on one rank ends the whole job with a message naming the rank; ranks started
#        with different options are refused
# usage: check_data_parallel.sh SRGAN COMPARE_CHECKPOINTS FIXTURE_DIR WORK_DIR
set -uo pipefail
srgan=$1 compare=$2 fixtures=$3 work=$4
rm -rf "$work" && mkdir -p "$work/data"
cp "$fixtures/data/metrics_hr.png" "$fixtures/data/metrics_noisy.png" "$fixtures/data/metrics_bicubic.png" "$work/data/"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # CI runs as root
mpirun=(mpirun -np 2 --oversubscribe --bind-to none)
mpmd=(mpirun --oversubscribe --bind-to none -np 1)  # ... : -np 1 ...: each rank its own command line
common=(--data "$work/data" --device cpu --blocks 1 --width 8 --d-width 4 --crop 32 --log-every 1 --workers 1
        --lr 1e-3 --val-every 0 --threads 1)
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
run() {  # run NAME COMMAND...: runs it, keeps its output in $work/NAME.log, fails the case on a nonzero exit
  local name=$1; shift
  if ! "$@" > "$work/$name.log" 2>&1; then fail "$name exited with $? ($(tail -3 "$work/$name.log" | tr '\n' ' '))"; return 1; fi
}
same() {  # same NAME A B [compare options]: the two checkpoints' tensors agree
  local name=$1 a=$2 b=$3; shift 3
  if "$compare" "$a" "$b" "$@" > "$work/$name.cmp" 2>&1; then echo "ok: $name ($(tail -1 "$work/$name.cmp"))"
  else fail "$name: $(cat "$work/$name.cmp" | tr '\n' ' ')"; fi
}

# 1-2. Two ranks with batch 2 against one process with 2 micro-batches of 2. The pretraining G has
# 2 blocks (11576 parameters: the all-reduce splits them evenly over the ranks), the GAN phase's
# models 1 block (10375 and 151869: the all-reduce pads them).
for phase in pretrain gan; do
  blocks=$([ $phase = pretrain ] && echo 2 || echo 1)
  run "${phase}_accum" "$srgan" train "${common[@]}" --blocks $blocks --phase "$phase" --batch 2 --steps 4 --accum 2 \
      --out "$work/${phase}_accum"
  run "${phase}_ranks" "${mpirun[@]}" "$srgan" train "${common[@]}" --blocks $blocks --phase "$phase" --batch 2 --steps 4 \
      --out "$work/${phase}_ranks"
  # Each micro-batch's gradient is summed alone and then added, as the all-reduce adds the ranks':
  # the same additions, so weights and optimizer states agree bit for bit. The running statistics
  # differ by design: --accum updates them micro-batch after micro-batch, ranks average theirs.
  same "$phase: 2 ranks = --accum 2" "$work/${phase}_accum/last.safetensors" "$work/${phase}_ranks/last.safetensors" \
       --exact --skip running_
done

# 3. Stopped and resumed on 2 ranks.
run gan_half "${mpirun[@]}" "$srgan" train "${common[@]}" --phase gan --batch 2 --steps 2 --out "$work/gan_resumed"
run gan_rest "${mpirun[@]}" "$srgan" train "${common[@]}" --phase gan --batch 2 --steps 4 --resume --out "$work/gan_resumed"
same "2 ranks: resumed = uninterrupted" "$work/gan_ranks/last.safetensors" "$work/gan_resumed/last.safetensors" --exact

# 4. Synchronised batch norm: the statistics of the global batch. After one step Adam's first
# moments are 0.1 x the gradients: compared to float tolerance (the synchronised statistics are
# summed in another order). The weights themselves are not: Adam turns the float noise of the
# conv biases just before a batch norm (true gradient 0) into steps of +-lr.
run syncbn_single "$srgan" train "${common[@]}" --phase gan --batch 4 --steps 1 --out "$work/syncbn_single"
run syncbn_ranks "${mpirun[@]}" "$srgan" train "${common[@]}" --phase gan --batch 2 --steps 1 --sync-bn \
    --out "$work/syncbn_ranks"
same "--sync-bn on 2 ranks = one process with both batches (gradients)" "$work/syncbn_single/last.safetensors" \
     "$work/syncbn_ranks/last.safetensors" --only exp_avg --skip exp_avg_sq --atol 1e-7 --rtol 1e-3
# G's running statistics (D's are also updated by its third forward, after its update, so they
# inherit the bias noise above).
same "--sync-bn: G's running statistics are the global batch's" "$work/syncbn_single/last.safetensors" \
     "$work/syncbn_ranks/last.safetensors" --only running_ --skip D. --atol 1e-6 --rtol 1e-5

# 5. SIGTERM to one rank: every rank stops at the same step, rank 0 writes the checkpoint.
"${mpirun[@]}" "$srgan" train "${common[@]}" --phase pretrain --batch 2 --steps 100000 --out "$work/term" \
  > "$work/term.log" 2>&1 &
launcher=$!
for _ in $(seq 100); do grep -q "^step 5/" "$work/term.log" 2>/dev/null && break; sleep 0.1; done
victim=$(pgrep -f "srgan train .*$work/term" | tail -1)
[ -n "$victim" ] && kill -TERM "$victim"
wait $launcher
grep -q "interrupted: checkpoint written" "$work/term.log" || fail "SIGTERM: no checkpoint message ($(tail -3 "$work/term.log" | tr '\n' ' '))"
stopped=$(sed -n 's/.* at step \([0-9]*\)$/\1/p' "$work/term.log" | tail -1)
if [ -n "$stopped" ]; then
  run term_resume "${mpirun[@]}" "$srgan" train "${common[@]}" --phase pretrain --batch 2 --steps $((stopped + 2)) \
      --resume --out "$work/term" && echo "ok: SIGTERM to one rank stopped both at step $stopped; resumed to $((stopped + 2))"
else
  fail "SIGTERM: the stopping step is not in the log"
fi

# 6. An error on one rank (its own --data folder is missing: MPMD launch) ends every rank, naming it.
"${mpmd[@]}" "$srgan" train "${common[@]}" --phase pretrain --batch 2 --steps 50 --out "$work/bad_run" \
  : -np 1 "$srgan" train "${common[@]}" --data "$work/no_such_folder" --phase pretrain --batch 2 --steps 50 \
  --out "$work/bad_run" > "$work/bad.log" 2>&1
status=$?
if [ $status -ne 0 ] && grep -q "rank 1 of 2" "$work/bad.log" && grep -q "no_such_folder" "$work/bad.log"; then
  echo "ok: an error on rank 1 ended the job (exit $status): $(grep -m1 "rank 1 of 2" "$work/bad.log")"
else
  fail "a failing rank: exit $status, $(tail -5 "$work/bad.log" | tr '\n' ' ')"
fi
# Ranks with different training options would compute different things: refused at the start.
"${mpmd[@]}" "$srgan" train "${common[@]}" --phase pretrain --batch 2 --steps 5 --out "$work/mixed" \
  : -np 1 "$srgan" train "${common[@]}" --phase pretrain --batch 4 --steps 5 --out "$work/mixed" > "$work/mixed.log" 2>&1
status=$?
if [ $status -ne 0 ] && grep -q "different options" "$work/mixed.log"; then
  echo "ok: ranks with different options refused: $(grep -m1 "different options" "$work/mixed.log")"
else
  fail "ranks with different options: exit $status, $(tail -5 "$work/mixed.log" | tr '\n' ' ')"
fi

echo "$failures failure(s)"
[ $failures = 0 ]
