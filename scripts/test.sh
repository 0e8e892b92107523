#!/usr/bin/env bash
# The README's test command: install, start what the tests need, run the whole suite.
#   - packages (scripts/setup.sh);
#   - PostgreSQL on 127.0.0.1 (the annotation store is tested on it as well as on SQLite);
#   - the isolated VBench environment with random-weight checkpoints (the real vbench package runs).
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/test_video.py -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
STEPEVAL_TEST_POSTGRES_URL="$(bash scripts/start_postgres.sh)"
export STEPEVAL_TEST_POSTGRES_URL
bash scripts/ci_vbench.sh
python3 -m pytest -q "$@"
