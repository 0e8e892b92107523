"""Per-video seeds derived from (run seed, item id, sample).

A video's seed depends only on what it is, never on which rank made it or in what order, so a run
sharded over 8 GPUs makes the same videos as one process. The hash is BLAKE2b, stable across
processes, machines and Python versions (Python's hash() of a str is salted per process).
All models of a run share an item's seed (common random numbers make comparisons less noisy).
"""

from __future__ import annotations

import hashlib

SEED_BITS = 63  # fits int64 columns, numpy, torch.manual_seed and torch.Generator


def derive_seed(run_seed: int, item_id: str, sample: int = 0) -> int:
    key = f"stepeval-seed\x1f{int(run_seed)}\x1f{item_id}\x1f{int(sample)}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << SEED_BITS) - 1)
