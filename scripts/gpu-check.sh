#!/usr/bin/env bash
# One call on a lent GPU machine that has only its driver: the tiled-GEMM check and sweep
# (dist/bench/gpu_sweep.js), the fused-loss layout sweep (dist/bench/gpu_losses.js), the test suite,
# the benchmark's GEMM-bound sections with tuning, then the other bench sections; each step's log goes
# to $OUT (or /tmp/gpu-out), each step has a time limit (SWEEP_S, LOSSES_S, GEMM_S, TESTS_S, REST_S).
# STEPS (default: all, in this order) picks steps, e.g. STEPS="tests bench-gemm" for a short call;
# REST_SECTIONS the bench sections of bench-rest.
# Prepare here with
#   bash scripts/gpu-bench.sh pack
# then run there:  bash .gpu/run.sh bash scripts/gpu-check.sh
# Tests that need what the GPU machine lacks (npm for the packed-tarball test, the Fashion-MNIST
# Debian package) are excluded or skip themselves there.
set -uo pipefail
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
for t in .gpu/tfjs.tar.xz .gpu/dev.tar.xz; do [[ -f $t ]] && tar -xJf "$t"; done
export WEBGPU_DL_CACHE_DIR=$out/tune-cache
node dist/scripts/probe-adapter.js 2>&1 | tee "$out/probe.txt" || { echo "gpu-check: no adapter"; exit 1; }
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.sm,power.limit --format=csv 2>&1 | tee -a "$out/probe.txt"
steps=" ${STEPS:-sweep losses-sweep tests bench-gemm bench-rest} "
step() { local name=$1 limit=$2; shift 2; [[ $steps == *" $name "* ]] || return 0; echo "== $name (limit ${limit}s)"; local t0=$SECONDS; timeout "$limit" "$@" > "$out/$name.txt" 2>&1; local rc=$?; tail -n "${TAIL:-60}" "$out/$name.txt"; echo "== $name rc=$rc in $((SECONDS - t0))s"; }
step sweep "${SWEEP_S:-100}" node dist/bench/gpu_sweep.js 1024 2048 4096
step losses-sweep "${LOSSES_S:-60}" node dist/bench/gpu_losses.js 4096
TAIL=25 step tests "${TESTS_S:-150}" node node_modules/mocha/bin/mocha.js --ignore dist/test/core/package.test.js --reporter dot
step bench-gemm "${GEMM_S:-170}" node dist/bench/run.js matmul conv block --tune
[[ $steps == *" bench-gemm "* ]] && cp bench/results.json "$out/results-gemm.json" 2>/dev/null
step bench-rest "${REST_S:-80}" node dist/bench/run.js ${REST_SECTIONS:-norm_pool losses augment}
[[ $steps == *" bench-rest "* ]] && cp bench/results.json "$out/results-rest.json" 2>/dev/null
exit 0
