"""Seeded blinding and assignment, as plain functions of (seed, ids, names).

Every random choice is a hash of the study seed and the names involved, so it is reproducible
from the database alone and does not change when annotators join in another order.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence


def seeded_key(seed: int, *parts: object) -> str:
    text = "\x1f".join([str(seed), *map(str, parts)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_swapped(seed: int, item_id: str, annotator: str) -> bool:
    """Whether model A is shown on the right for this (item, annotator)."""
    return int(seeded_key(seed, "swap", item_id, annotator)[:8], 16) & 1 == 1


def queue_position(seed: int, annotator: str, item_id: str, is_gold: bool) -> str:
    """Sort key of a task in its annotator's queue: a per-annotator shuffle, gold items mixed in."""
    return seeded_key(seed, "order", annotator, item_id, int(is_gold))


def gold_items(seed: int, annotator: str, item_ids: Sequence[str], count: int) -> list[str]:
    if count <= 0 or not item_ids:
        return []
    return sorted(item_ids, key=lambda i: seeded_key(seed, "gold", annotator, i))[: min(count, len(item_ids))]


def gold_side(seed: int, annotator: str, item_id: str) -> str:
    """Which model's video a gold task pairs with itself ('A' or 'B')."""
    return "A" if int(seeded_key(seed, "gold-side", annotator, item_id)[:8], 16) & 1 == 0 else "B"


def balance(
    item_ids: Sequence[str],
    annotators: Sequence[str],
    overlap: int,
    seed: int,
    current: Mapping[str, Mapping[str, bool]],
) -> dict[str, set[str]]:
    """Which annotators should judge each item.

    `current[item][annotator]` is True for a task that already has a judgment (it is kept, whoever
    holds it, and counts towards the overlap) and False for an unstarted one (kept when that keeps
    loads balanced). Each item gets `overlap` distinct annotators (fewer when there are fewer
    annotators), always given to the least loaded annotator not yet on the item, as a round robin
    does, so loads differ by at most one apart from what was already judged.
    """
    active = list(annotators)
    result: dict[str, set[str]] = {i: {a for a, started in current.get(i, {}).items() if started} for i in item_ids}
    if not active:
        return result
    k = min(overlap, len(active))
    load = Counter({a: 0 for a in active})
    for holders in result.values():
        for a in holders:
            if a in load:
                load[a] += 1
    order = sorted(item_ids, key=lambda i: seeded_key(seed, "item", i))
    for item in order:
        need = k - len(result[item])
        if need <= 0:
            continue
        held = current.get(item, {})
        candidates = [a for a in active if a not in result[item]]
        candidates.sort(
            key=lambda a: (
                load[a],  # balance first (a late joiner takes a fair share of the unstarted items)
                a not in held,  # then keep unstarted tasks where they are
                seeded_key(seed, "pick", item, a),
            )
        )
        for a in candidates[:need]:
            result[item].add(a)
            load[a] += 1
    return result
