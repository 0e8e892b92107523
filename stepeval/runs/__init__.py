"""The run directory: layout, atomic writes, resume, tables, locks."""

from stepeval.runs.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from stepeval.runs.run import GENERATION_KEYS, SCORE_KEYS, Run, check_model_tag
from stepeval.runs.shards import Shard
from stepeval.runs.tables import Table

__all__ = ["GENERATION_KEYS", "SCORE_KEYS", "Run", "Shard", "Table", "atomic_write", "atomic_write_bytes", "atomic_write_text", "check_model_tag"]
