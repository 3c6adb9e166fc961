#!/usr/bin/env bash
# Two "machines" on one: runs `mpirun -np 2 srgan train ...` with one rank in each of two network
# namespaces joined by a veth pair, Open MPI talking TCP over those addresses only (no shared
# memory between the ranks), as it would between two hosts. Needs root (ip netns) and Open MPI.
#
#   tools/scripts/mpi_two_netns.sh [SRGAN_TRAIN_ARGS...]
#
# With no arguments it runs a short check: 4 pretraining steps on the two ranks against one
# process with --accum 2 on the same samples, and compares the weights (they must be equal).
# Environment: SRGAN (default build/tools/srgan), COMPARE (default build/tests/compare_checkpoints),
# WORK (default a temporary folder). Exit status 77: namespaces cannot be made here (not root).
#
# How it works: mpirun starts in namespace srgan_a (10.77.0.1) and launches the remote daemon
# through an rsh "agent" that runs it with `ip netns exec srgan_b` (10.77.0.2) instead of ssh.
set -uo pipefail
cd "$(dirname "$0")/../.."
srgan=${SRGAN:-build/tools/srgan}
compare=${COMPARE:-build/tests/compare_checkpoints}
work=${WORK:-$(mktemp -d /tmp/srgan_netns.XXXXXX)}
mkdir -p "$work"
ns_a=srgan_a ns_b=srgan_b ip_a=10.77.0.1 ip_b=10.77.0.2

cleanup() { ip netns del $ns_a 2>/dev/null; ip netns del $ns_b 2>/dev/null; }
cleanup
if ! ip netns add $ns_a 2>/dev/null || ! ip netns add $ns_b 2>/dev/null; then
  echo "mpi_two_netns: cannot create network namespaces here (needs root and CAP_NET_ADMIN): skipped" >&2
  cleanup
  exit 77
fi
trap cleanup EXIT
ip link add veth_srgan_a type veth peer name veth_srgan_b
ip link set veth_srgan_a netns $ns_a
ip link set veth_srgan_b netns $ns_b
ip -n $ns_a addr add $ip_a/24 dev veth_srgan_a
ip -n $ns_b addr add $ip_b/24 dev veth_srgan_b
for ns in $ns_a $ns_b; do ip -n $ns link set lo up; done
ip -n $ns_a link set veth_srgan_a up
ip -n $ns_b link set veth_srgan_b up

# The launch agent: Open MPI calls it as `agent [options] HOST COMMAND...`.
cat > "$work/agent.sh" <<EOF
#!/usr/bin/env bash
while [[ "\$1" == -* ]]; do shift; done
host=\$1; shift
case "\$host" in $ip_a) ns=$ns_a ;; $ip_b) ns=$ns_b ;; *) echo "agent: unknown host \$host" >&2; exit 1 ;; esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
EOF
chmod +x "$work/agent.sh"
printf "%s slots=1\n%s slots=1\n" $ip_a $ip_b > "$work/hosts"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
two_hosts=(ip netns exec $ns_a mpirun --hostfile "$work/hosts" -np 2 --mca plm_rsh_agent "$work/agent.sh"
           --mca btl tcp,self --mca btl_tcp_if_include $ip_a/24 --mca oob_tcp_if_include $ip_a/24 --bind-to none)

if [ $# -gt 0 ]; then
  "${two_hosts[@]}" "$(realpath "$srgan")" train "$@"
  exit $?
fi

rm -rf "$work/one" "$work/two" "$work/data"
mkdir -p "$work/data"
cp tests/fixtures/data/metrics_hr.png tests/fixtures/data/metrics_noisy.png "$work/data/"
common=(--data "$work/data" --device cpu --blocks 1 --width 8 --crop 32 --batch 2 --steps 4 --log-every 1
        --workers 1 --lr 1e-3 --val-every 0 --threads 1)
"$srgan" train "${common[@]}" --accum 2 --out "$work/one" > "$work/one.log" 2>&1 || { cat "$work/one.log"; exit 1; }
"${two_hosts[@]}" "$(realpath "$srgan")" train "${common[@]}" --out "$work/two" > "$work/two.log" 2>&1 ||
  { cat "$work/two.log"; exit 1; }
grep -q "2 ranks (1 on this machine" "$work/two.log" || { echo "the ranks did not see two machines:"; cat "$work/two.log"; exit 1; }
"$compare" "$work/one/last.safetensors" "$work/two/last.safetensors" --exact --skip running_
