#!/usr/bin/env bash
# The VBench part of CI's set-up: the isolated VBench venv (pinned vbench==0.1.5 stack, ~5.4 GB on a
# fresh machine) and random-weight checkpoints for the six CI dimensions, written under
# ~/.cache/stepeval/vbench-random-weights (never into a real ~/.cache/vbench). Idempotent: a second
# run checks and returns in seconds. Then `python -m pytest tests/metrics` runs the vbench test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stepeval vbench setup
python -m stepeval.metrics.testing write-random-weights
echo "vbench CI set-up: $(( $(date +%s) - start )) s"
