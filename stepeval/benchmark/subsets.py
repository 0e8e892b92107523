"""Subsets of a benchmark: by domain, aspect, explicit ids, or a seeded stratified sample.

CI and quick looks run on samples; a sample must be reproducible (seeded) and keep the benchmark's
mix of domains and aspects (stratified), or a regression on one stratum can hide in the noise.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from stepeval.benchmark.items import BenchmarkItem
from stepeval.errors import UserError


@dataclass(frozen=True)
class Subset:
    domains: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    sample: int | None = None
    seed: int = 0
    present_only: bool = False  # drop items whose image is not present locally (text-only items stay)
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def is_all(self) -> bool:
        return not (self.domains or self.aspects or self.ids or self.sample or self.present_only)

    def describe(self) -> str:
        if self.is_all:
            return "all items"
        parts = []
        if self.domains:
            parts.append(f"domain in {{{', '.join(self.domains)}}}")
        if self.aspects:
            parts.append(f"aspect in {{{', '.join(self.aspects)}}}")
        if self.ids:
            parts.append(f"{len(self.ids)} listed ids")
        if self.present_only:
            parts.append("images present")
        if self.sample:
            parts.append(f"stratified sample of {self.sample} (seed {self.seed})")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        d["domains"], d["aspects"], d["ids"] = list(self.domains), list(self.aspects), list(self.ids)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> Subset:
        d = dict(d or {})
        known = {"domains", "aspects", "ids", "ids_file", "sample", "seed", "present_only"}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"unknown subset key(s): {', '.join(sorted(unknown))}", hint=f"use {', '.join(sorted(known))}")
        ids = list(d.get("ids") or [])
        if d.get("ids_file"):
            ids += read_ids_file(Path(d["ids_file"]))
        return cls(
            domains=tuple(_as_list(d.get("domains"))),
            aspects=tuple(_as_list(d.get("aspects"))),
            ids=tuple(ids),
            sample=d.get("sample"),
            seed=int(d.get("seed") or 0),
            present_only=bool(d.get("present_only", False)),
        )

    def apply(self, items: list[BenchmarkItem]) -> list[BenchmarkItem]:
        """Filter, then sample; the result is sorted by id, so order never depends on the filesystem."""
        out = sorted(items, key=lambda it: it.id)
        if self.ids:
            known = {it.id for it in out}
            unknown = [i for i in self.ids if i not in known]
            if unknown:
                raise UserError(f"{len(unknown)} subset id(s) are not in the benchmark: {', '.join(unknown[:5])}")
            wanted = set(self.ids)
            out = [it for it in out if it.id in wanted]
        if self.domains:
            out = [it for it in out if it.domain in self.domains]
        if self.aspects:
            out = [it for it in out if it.aspect in self.aspects]
        if self.present_only:  # a text-only item has all its inputs
            out = [it for it in out if it.has_image or not it.takes_image]
        if self.sample is not None:
            out = stratified_sample(out, self.sample, self.seed)
        return out


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [str(v) for v in value]


def read_ids_file(path: Path) -> list[str]:
    """One id per line; blank lines and `#` comments ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"cannot read id list ({exc.strerror})", path=path) from exc
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def stratified_sample(items: list[BenchmarkItem], n: int, seed: int) -> list[BenchmarkItem]:
    """n items, allocated to (domain, aspect) strata in proportion to their size (largest remainder,
    so every stratum gets floor(share) and the leftover goes to the largest fractional parts), then
    drawn uniformly within each stratum with a seeded generator."""
    if n < 1:
        raise UserError(f"sample size must be >= 1, got {n}")
    if n >= len(items):
        return sorted(items, key=lambda it: it.id)
    strata: dict[tuple[str, str], list[BenchmarkItem]] = defaultdict(list)
    for it in sorted(items, key=lambda it: it.id):
        strata[(it.domain, it.aspect)].append(it)
    keys = sorted(strata)
    sizes = np.array([len(strata[k]) for k in keys], dtype=float)
    shares = sizes * n / sizes.sum()
    alloc = np.floor(shares).astype(int)
    # Ties in the remainder go to the larger stratum, then to key order: deterministic.
    order = sorted(range(len(keys)), key=lambda i: (-(shares[i] - alloc[i]), -sizes[i], i))
    for i in order[: n - int(alloc.sum())]:
        alloc[i] += 1
    rng = np.random.default_rng(seed)
    chosen: list[BenchmarkItem] = []
    for k, a in zip(keys, alloc):
        pool = strata[k]
        picks = rng.choice(len(pool), size=int(a), replace=False) if a else []
        chosen.extend(pool[j] for j in picks)
    return sorted(chosen, key=lambda it: it.id)
