#!/usr/bin/env bash
# The VBench part of CI's set-up: the isolated VBench venv (pinned vbench==0.1.5 stack, ~5.4 GB on a
# fresh machine) and random-weight checkpoints for the VBench-I2V dimensions (about 4.5 GB,
# about 1.5 min to write here), under ~/.cache/stepeval/vbench-random-weights (never into a real
# ~/.cache/vbench). camera_motion also needs CoTracker's torch.hub code, which no package registry
# ships and whose licence keeps it out of this repository: with $STEPEVAL_COTRACKER_HUB pointing at a
# copy of the pinned co-tracker commit it is checked file by file and laid out under TORCH_HOME/hub,
# else camera_motion is skipped. Idempotent: a second run checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stepeval vbench setup
python -m stepeval.metrics.testing write-random-weights
echo "vbench CI set-up: $(( $(date +%s) - start )) s"
