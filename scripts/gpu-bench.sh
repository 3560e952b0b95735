#!/usr/bin/env bash
# The whole benchmark (`npm run bench`, TensorFlow.js peer included) on a GPU machine that has nothing
# installed but its driver: no Node, no npm registry, no Vulkan loader.
#
#   here:  bash scripts/gpu-bench.sh pack      build dist/, then fill .gpu/ (git-ignored): a Node binary, the
#                                              Vulkan loader, runtime node_modules (../shared/gpu/pack.sh, or
#                                              $GPU_PACK) and the TensorFlow.js peer (.gpu/tfjs.tar.xz)
#   there: bash scripts/gpu-bench.sh [args]    with this project's copy holding dist/ and .gpu/: unpacks,
#                                              prints the card, runs node dist/bench/run.js [args] (e.g. a
#                                              section name, --tune); the table goes to stdout and
#                                              bench/results.json, which names the adapter
# On a discrete GPU the engine picks its GPU kernel families (engine/tune.ts); `--tune` times the
# candidates there and caches the winners under ~/.cache/webgpu-dl/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ "${1:-}" == "pack" ]]; then
  npm run build --silent
  pack=${GPU_PACK:-$root/../shared/gpu/pack.sh}
  [[ -f "$pack" ]] || { echo "gpu-bench: $pack not found (set GPU_PACK to the shared pack.sh)" >&2; exit 1; }
  bash "$pack"
  # the NVIDIA Vulkan driver (libGLX_nvidia) loads through libglvnd: without these, vkCreateInstance finds
  # no driver on a bare machine (seen on an H200 lent for this project); .gpu/run.sh unpacks every .deb
  lists=/tmp/gpu-pack-amd64-lists
  o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
  (cd .gpu && apt-get $o download libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2 >/dev/null 2>&1)
  # pack.sh installs production dependencies only; the benchmark's TensorFlow.js peer is a devDependency.
  files=()
  for p in @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu @tensorflow/tfjs-backend-cpu; do
    main=$(node -e "console.log(require('./node_modules/$p/package.json').main)")
    files+=("node_modules/$p/package.json" "node_modules/$p/$main")
  done
  for p in long seedrandom node-fetch whatwg-url tr46 webidl-conversions; do
    [[ -d node_modules/$p ]] && files+=("node_modules/$p")
  done
  tar -cJf .gpu/tfjs.tar.xz "${files[@]}"
  # the test runner and its dependencies, for scripts/gpu-check.sh (the big packages come from above)
  tar --exclude=node_modules/typescript --exclude=node_modules/webgpu --exclude=node_modules/@tensorflow \
    --exclude=node_modules/@types --exclude=node_modules/.bin -cJf .gpu/dev.tar.xz node_modules
  echo "gpu-bench: copy dist/ and .gpu/ next to the project on the GPU machine, then run: bash scripts/gpu-bench.sh"
  exit 0
fi

if [[ "${1:-}" == "--inner" ]]; then
  shift
  [[ -f .gpu/tfjs.tar.xz ]] && tar -xJf .gpu/tfjs.tar.xz
  node dist/scripts/probe-adapter.js || { echo "gpu-bench: no usable WebGPU adapter" >&2; exit 1; }
  exec node dist/bench/run.js "$@"
fi

[[ -f .gpu/run.sh && -d dist ]] || { echo "gpu-bench: need dist/ and .gpu/ (run 'bash scripts/gpu-bench.sh pack' on a machine with the project's node_modules first)" >&2; exit 1; }
exec bash .gpu/run.sh bash scripts/gpu-bench.sh --inner "$@"
