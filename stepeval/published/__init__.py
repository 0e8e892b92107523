"""Published results as data: reference tables shipped with stepeval or written by a user, checked
against themselves and shown beside a run's own measurements (docs/published-results.md).

- `schema`: the file format (pydantic models, JSON Schema);
- `store`: where reference files are found (the package's `data/` folder, $STEPEVAL_PUBLISHED_PATH,
  paths given by the caller), loading and selectors (`NAME[:COLUMN]`);
- `checks`: every printed aggregate recomputed from its own printed parts, each difference
  classified as display rounding or a real disagreement.
"""

from stepeval.published.schema import (
    FORMAT,
    SCHEMA_VERSION,
    PairwiseColumn,
    PairwiseTable,
    Printed,
    PublishedResults,
    VBenchColumn,
    VBenchTable,
    json_schema,
    parse_wtl,
    printed,
)
from stepeval.published.store import Chosen, Entry, Selector, catalogue, load, load_file, parse_selector, resolve

__all__ = [
    "FORMAT", "SCHEMA_VERSION", "Chosen", "Entry", "PairwiseColumn", "PairwiseTable", "Printed", "PublishedResults",
    "Selector", "VBenchColumn", "VBenchTable", "catalogue", "json_schema", "load", "load_file", "parse_selector",
    "parse_wtl", "printed", "resolve",
]
