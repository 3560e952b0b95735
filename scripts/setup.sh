#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian/Ubuntu machine (run by `npm run setup`).
#  1. npm ci (when node_modules is missing or stale) and the TypeScript build;
#  2. only when no WebGPU adapter can be created: the Vulkan loader and Mesa's lavapipe
#     (from bookworm-backports on Debian 12: bookworm's Mesa 22.3 is refused by Dawn);
#  3. the Fashion-MNIST dataset package when its files are missing;
#  4. prints the adapter the engine will use, or says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi
log "building (tsc)"
npm run --silent build

apt_updated=0
apt_update() {
  if [ "$apt_updated" = 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
}

is_bookworm() { [ -r /etc/os-release ] && grep -q 'VERSION_CODENAME=bookworm' /etc/os-release; }

ensure_backports() {
  if is_bookworm && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding bookworm-backports to apt sources"
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    apt_updated=0
  fi
}

if node dist/scripts/probe-adapter.js --quiet >/dev/null 2>&1; then
  log "a WebGPU adapter is available; no system packages needed for it"
else
  if ! command -v apt-get >/dev/null; then
    echo "[setup] no WebGPU adapter and no apt-get: install a Vulkan driver (Mesa >= 24 lavapipe on CPU-only machines) and libvulkan1" >&2
    exit 1
  fi
  log "no WebGPU adapter: installing the Vulkan loader and Mesa lavapipe"
  ensure_backports
  apt_update
  if is_bookworm; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1
  else
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1
  fi
fi

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${FASHION_MNIST_DIR:-}" ]; then
  if command -v apt-get >/dev/null; then
    log "installing dataset-fashion-mnist"
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist
  else
    log "warning: Fashion-MNIST not found and no apt-get; set FASHION_MNIST_DIR"
  fi
fi

node dist/scripts/probe-adapter.js
