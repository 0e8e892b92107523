#!/usr/bin/env bash
# The official-size Step-Video-TI2V step on one H100/H200, inside 8 minutes, no weights download.
#   bash benchmarks/gpu/run_official_step.sh [OUT_DIR] [extra args for official_step.py]
# Writes OUT_DIR (default runs/gpu) /official_step.json (schema-checked) and official_step.txt
# (nvidia-smi before the run, then the script's output). A run cut short (a crash, or the time
# limit's SIGTERM) leaves official_step.partial.json with the sections it finished.
# Needs a CUDA build of torch and jsonschema in the environment it runs in.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-${OUT:-runs/gpu}}"
shift || true
mkdir -p "$out"
out="$(cd "$out" && pwd)"  # absolute: the script runs from the repo root
{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv || true
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
} > "$out/official_step.txt" 2>&1
# expandable segments: the step's tensors differ in size by 4x (FFN vs attention), and the
# planner's estimate is of live tensors; fewer split segments keep reserved close to allocated.
export PYTORCH_CUDA_ALLOC_CONF="${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}"
cd "$repo"
# 8 minutes for the whole wrapper: what the lines above took comes off the limit. SIGTERM at the
# limit makes the script save its partial result; -k: SIGKILL 10 s later if a kernel will not end.
# -u: unbuffered, so what was printed before a kill reaches the .txt.
timeout -k 10 "$((470 - SECONDS))" python3 -u benchmarks/gpu/official_step.py \
  --out "$out/official_step.json" "$@" 2>&1 | tee -a "$out/official_step.txt"
