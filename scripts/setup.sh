#!/usr/bin/env bash
# Install everything stepeval needs on a fresh Debian machine (idempotent; fast when already done).
# torch goes first and pinned, so nothing later can pull a different (CUDA) build into this environment.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(chromium fonts-wqy-microhei)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
TORCH_VERSION=${STEPEVAL_TORCH:-2.13.0}
if ! $PY -c "import torch" >/dev/null 2>&1; then
  $PY -m pip install -q "torch==${TORCH_VERSION}"
fi
$PY -m pip install -q -e ".[dev,diffusers,postgres]"
