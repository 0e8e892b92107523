"""The annotation store: studies, annotators, tasks, append-only judgments.

One `AnnotationStore` per database URL. Every public method opens its own short transaction, so an
instance is safe to share between threads (the Streamlit server) and processes (several servers on
one PostgreSQL database).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stepeval.errors import UserError
from stepeval.human import assignment
from stepeval.human.db import describe, friendly_errors, make_engines, resolve_url
from stepeval.human.dimensions import (
    DEFAULT_PROTOCOL,
    DIMENSIONS,
    PROTOCOLS,
    SCREEN_LABELS,
    Dimension,
    StudyProtocol,
    dimensions_from_dicts,
    get_protocol,
    protocol_for_dimensions,
    to_outcome,
)
from stepeval.human.models import Annotator, Base, Judgment, JudgmentLabel, SignIn, Study, StudyItem, Task
from stepeval.human.schema import JUDGMENT_COLUMNS, JUDGMENT_TYPES

# The contract's columns as a list, the form DataFrame column selection takes.
FRAME_COLUMNS = list(JUDGMENT_COLUMNS)
SOURCES = ("app", "import", "auto")
_MAX_SUBMIT_ATTEMPTS = 50
SIGN_IN_DAYS = 14  # how long a browser stays signed in without typing the token again
# Where a study records its template: in its benchmark info (a JSON column every database already
# has), so that no table changes and databases written before templates existed stay readable.
PROTOCOL_KEY = "protocol"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class AuthError(UserError):
    """A token that is unknown, revoked, or lacks the rights asked for."""


@dataclass(frozen=True)
class Identity:
    role: str  # "annotator" or "admin"
    study_id: str
    annotator_id: int | None = None
    name: str = "admin"
    tutorial_done: bool = True


@dataclass(frozen=True)
class StudyInfo:
    id: str
    run_name: str
    run_root: str | None
    model_a: str
    model_b: str
    dimensions: tuple[Dimension, ...]
    overlap: int
    gold_per_annotator: int
    seed: int
    item_ids: tuple[str, ...]
    created_at: str
    benchmark: dict | None = None

    @property
    def protocol(self) -> StudyProtocol:
        """The template the study was created with: the one its benchmark info records, else the one
        its dimensions belong to (imported studies), else the default (studies made before templates
        existed). What it asks is always `dimensions`, as stored."""
        recorded = (self.benchmark or {}).get(PROTOCOL_KEY)
        if recorded in PROTOCOLS:
            return PROTOCOLS[recorded]
        return protocol_for_dimensions(d.name for d in self.dimensions) or PROTOCOLS[DEFAULT_PROTOCOL]


@dataclass(frozen=True)
class ItemInfo:
    item_id: str
    domain: str
    aspect: str
    prompt: str
    image_path: str | None


@dataclass(frozen=True)
class TaskInfo:
    """A task as the server sees it. Only `id`, the item's prompt and image, and the answer ever reach
    an annotator's browser; the tags stay here."""

    id: str
    study_id: str
    annotator_id: int
    item_id: str
    is_gold: bool
    left_tag: str
    right_tag: str
    swapped: bool
    position: str
    answer: dict | None = None  # current judgment: {"labels": {...}, "comment", "cannot_judge", "revision"}


@dataclass(frozen=True)
class SubmitResult:
    judgment_id: int
    revision: int
    created: bool  # False when the submit repeated one already stored


class QueueVersion(NamedTuple):
    """What changes when an annotator's queue changes. A rebalance only deletes unstarted tasks and
    adds new ones (created now, so newer than any the queue had); a submit only appends a judgment
    (ids only grow). So equal versions mean the same tasks with the same current answers."""

    tasks: int
    newest_task: str | None  # created_at of the most recently created task
    judgments: int  # every revision of every task in the queue
    newest_judgment: int | None


@dataclass
class ImportReport:
    """What an import did. A judgment is one answer to one task (one annotator, one item), a row is
    one of its dimensions: `annotate export` writes one row per judgment and dimension."""

    judgments: int = 0
    duplicates: int = 0
    annotators_created: list[str] = field(default_factory=list)
    rows: int = 0  # rows of the file that became new judgments
    duplicate_rows: int = 0  # rows of the file already stored
    tasks: int = 0  # tasks the file's judgments answer
    partial: int = 0  # new judgments that answer fewer than all of the study's dimensions


class AnnotationStore:
    def __init__(self, url: str, *, busy_timeout_s: float = 30.0, create: bool = True):
        self.url = url
        self._write_engine, self._read_engine = make_engines(url, busy_timeout_s=busy_timeout_s)
        if create:
            with friendly_errors(url):
                Base.metadata.create_all(self._write_engine)

    @classmethod
    def open(cls, db: str | Path | None = None, run_root: str | Path | None = None, **kw) -> AnnotationStore:
        return cls(resolve_url(db, run_root), **kw)

    def close(self) -> None:
        self._write_engine.dispose()
        if self._read_engine is not self._write_engine:
            self._read_engine.dispose()

    def __repr__(self) -> str:
        return f"AnnotationStore({describe(self.url)!r})"

    @contextmanager
    def _write(self):
        with friendly_errors(self.url), Session(self._write_engine, expire_on_commit=False) as s, s.begin():
            yield s

    @contextmanager
    def _read(self):
        with friendly_errors(self.url), Session(self._read_engine, expire_on_commit=False) as s, s.begin():
            yield s

    # -- studies ---------------------------------------------------------------------------------

    def create_study(
        self,
        study_id: str,
        *,
        run_name: str,
        model_a: str,
        model_b: str,
        items: Sequence[ItemInfo],
        overlap: int = 1,
        gold_per_annotator: int = 0,
        seed: int = 0,
        run_root: str | None = None,
        dimensions: Sequence[Dimension] | None = None,
        benchmark: dict | None = None,
        with_admin_token: bool = True,
        protocol: str | None = None,
    ) -> str | None:
        """Create a study; returns its admin token (shown once, stored hashed).

        `protocol` names the template (`stepeval.human.dimensions.PROTOCOLS`): its dimensions are
        asked unless `dimensions` says otherwise, and its name is recorded in the benchmark info.
        Neither given: the default template's dimensions, nothing recorded (as before templates)."""
        dimensions, benchmark = _with_protocol(protocol, dimensions, benchmark)
        if model_a == model_b:
            raise UserError(f"model A and model B are both {model_a!r}", hint="compare two different model tags")
        if overlap < 1:
            raise UserError(f"overlap must be at least 1, got {overlap}")
        if not items:
            raise UserError("a study needs at least one item", hint="check the subset options")
        token = new_token() if with_admin_token else None
        with self._write() as s:
            self._add_study(s, study_id, run_name=run_name, model_a=model_a, model_b=model_b, items=items, overlap=overlap,
                            gold_per_annotator=gold_per_annotator, seed=seed, run_root=run_root, dimensions=dimensions,
                            benchmark=benchmark, admin_token_hash=hash_token(token) if token else None)
        return token

    def _add_study(self, s: Session, study_id: str, *, run_name, model_a, model_b, items, overlap, gold_per_annotator, seed,
                   run_root, dimensions, benchmark, admin_token_hash) -> None:
        if s.get(Study, study_id) is not None:
            raise UserError(f"study {study_id!r} already exists in {describe(self.url)}", hint="choose another --study-id")
        s.add(
            Study(
                id=study_id, run_name=run_name, run_root=run_root, model_a=model_a, model_b=model_b,
                dimensions=[d.to_dict() for d in dimensions], overlap=overlap,
                gold_per_annotator=gold_per_annotator, seed=seed,
                admin_token_hash=admin_token_hash, benchmark=benchmark, created_at=now_iso(),
            )
        )
        s.flush()
        s.add_all(
            StudyItem(study_id=study_id, item_id=it.item_id, domain=it.domain, aspect=it.aspect, prompt=it.prompt, image_path=it.image_path)
            for it in items
        )

    def study_ids(self) -> list[str]:
        with self._read() as s:
            return list(s.scalars(select(Study.id).order_by(Study.created_at, Study.id)))

    def resolve_study(self, study_id: str | None) -> str:
        ids = self.study_ids()
        if study_id is None:
            if len(ids) == 1:
                return ids[0]
            if not ids:
                raise UserError(f"no study in {describe(self.url)}", hint="create one with `stepeval annotate create-study`")
            raise UserError(f"{len(ids)} studies in {describe(self.url)}: {', '.join(ids)}", hint="choose one with --study")
        if study_id not in ids:
            raise UserError(f"no study {study_id!r} in {describe(self.url)}", hint=f"known studies: {', '.join(ids) or 'none'}")
        return study_id

    def study(self, study_id: str) -> StudyInfo:
        with self._read() as s:
            st = s.get(Study, study_id)
            if st is None:
                raise UserError(f"no study {study_id!r} in {describe(self.url)}")
            item_ids = tuple(s.scalars(select(StudyItem.item_id).where(StudyItem.study_id == study_id).order_by(StudyItem.item_id)))
            return StudyInfo(
                id=st.id, run_name=st.run_name, run_root=st.run_root, model_a=st.model_a, model_b=st.model_b,
                dimensions=dimensions_from_dicts(st.dimensions), overlap=st.overlap,
                gold_per_annotator=st.gold_per_annotator, seed=st.seed, item_ids=item_ids, created_at=st.created_at,
                benchmark=st.benchmark,
            )

    def item(self, study_id: str, item_id: str) -> ItemInfo:
        with self._read() as s:
            it = s.get(StudyItem, (study_id, item_id))
            if it is None:
                raise UserError(f"item {item_id!r} is not part of study {study_id!r}")
            return ItemInfo(it.item_id, it.domain, it.aspect, it.prompt, it.image_path)

    def items(self, study_id: str) -> dict[str, ItemInfo]:
        """Every item of the study by id, in one query (a page that shows many reads them once)."""
        with self._read() as s:
            rows = s.scalars(select(StudyItem).where(StudyItem.study_id == study_id))
            return {it.item_id: ItemInfo(it.item_id, it.domain, it.aspect, it.prompt, it.image_path) for it in rows}

    # -- annotators ------------------------------------------------------------------------------

    def add_annotator(self, study_id: str, name: str) -> str:
        """Register an annotator and give them a queue; returns their token (shown once)."""
        name = name.strip()
        if not name:
            raise UserError("an annotator needs a name")
        token = new_token()
        with self._write() as s:
            if s.get(Study, study_id) is None:
                raise UserError(f"no study {study_id!r} in {describe(self.url)}")
            existing = s.scalar(select(Annotator).where(Annotator.study_id == study_id, Annotator.name == name))
            if existing is not None:
                raise UserError(
                    f"annotator {name!r} already exists in study {study_id!r}"
                    + (" (revoked)" if existing.revoked_at else ""),
                    hint="choose another name (a revoked token is never revived)",
                )
            s.add(Annotator(study_id=study_id, name=name, token_hash=hash_token(token), created_at=now_iso()))
            s.flush()
            self._rebalance(s, study_id)
        return token

    def revoke_annotator(self, study_id: str, name: str) -> int:
        """Revoke a token; their judgments stay, their unstarted tasks go to the others. Returns
        how many tasks were handed over."""
        with self._write() as s:
            ann = s.scalar(select(Annotator).where(Annotator.study_id == study_id, Annotator.name == name))
            if ann is None:
                raise UserError(f"no annotator {name!r} in study {study_id!r}")
            if ann.revoked_at is None:
                ann.revoked_at = now_iso()
            s.flush()
            before = s.scalar(select(func.count()).select_from(Task).where(Task.annotator_id == ann.id))
            self._rebalance(s, study_id)
            after = s.scalar(select(func.count()).select_from(Task).where(Task.annotator_id == ann.id))
            return int(before - after)

    def annotators(self, study_id: str) -> pd.DataFrame:
        with self._read() as s:
            rows = s.execute(
                select(Annotator.name, Annotator.created_at, Annotator.revoked_at, Annotator.token_hash.is_not(None).label("can_sign_in"))
                .where(Annotator.study_id == study_id).order_by(Annotator.id)
            ).all()
        return pd.DataFrame(rows, columns=["annotator", "created_at", "revoked_at", "can_sign_in"])

    def authenticate(self, token: str, *, role: str | None = None) -> Identity:
        """Who holds this token. `role="admin"` refuses annotator tokens (and vice versa)."""
        token = (token or "").strip()
        if not token:
            raise AuthError("no token given", hint="paste the token the study admin gave you")
        h = hash_token(token)
        with self._read() as s:
            ann = s.scalar(select(Annotator).where(Annotator.token_hash == h))
            if ann is not None:
                if ann.revoked_at is not None:
                    raise AuthError(f"this token was revoked on {ann.revoked_at[:10]}", hint="ask the study admin for a new token")
                ident = Identity("annotator", ann.study_id, ann.id, ann.name, tutorial_done=ann.tutorial_done_at is not None)
            else:
                st = s.scalar(select(Study).where(Study.admin_token_hash == h))
                if st is None:
                    raise AuthError("unknown token", hint="check for a typo, or ask the study admin for your token")
                ident = Identity("admin", st.id)
        if role is not None and ident.role != role:
            raise AuthError(f"this page needs the {role} token of the study", hint=f"sign in with the {role} token")
        return ident

    def start_sign_in(self, ident: Identity, *, days: float = SIGN_IN_DAYS) -> str:
        """Record a browser's sign-in; returns its key (random, shown to that browser only)."""
        key = new_token()
        now = datetime.now(timezone.utc)
        with self._write() as s:
            s.add(SignIn(key_hash=hash_token(key), study_id=ident.study_id, annotator_id=ident.annotator_id,
                         created_at=now.isoformat(timespec="milliseconds"),
                         expires_at=(now + timedelta(days=days)).isoformat(timespec="milliseconds")))
        return key

    def resume_sign_in(self, key: str) -> Identity:
        """Who a sign-in key belongs to, read fresh (tutorial state, revocation). Refuses a key that
        is unknown, signed out or expired, and an annotator whose token was revoked since."""
        key = (key or "").strip()
        with self._read() as s:
            # The sign-in and its annotator in one query: every page turn asks this.
            found = s.execute(
                select(SignIn, Annotator).outerjoin(Annotator, Annotator.id == SignIn.annotator_id).where(SignIn.key_hash == hash_token(key))
            ).first() if key else None
            row, ann = found if found is not None else (None, None)
            if row is None or row.ended_at is not None:
                raise AuthError("you are signed out", hint="sign in with your token")
            if datetime.fromisoformat(row.expires_at) <= datetime.now(timezone.utc):
                raise AuthError("your sign-in expired", hint="sign in again with your token")
            if row.annotator_id is None:
                st = s.get(Study, row.study_id)
                if st is None or st.admin_token_hash is None:
                    raise AuthError("this study has no admin sign-in any more", hint="ask for the current admin token")
                return Identity("admin", row.study_id)
            if ann is None or ann.revoked_at is not None or ann.token_hash is None:
                raise AuthError("your token was revoked", hint="ask the study admin for a new token")
            return Identity("annotator", ann.study_id, ann.id, ann.name, tutorial_done=ann.tutorial_done_at is not None)

    def end_sign_in(self, key: str) -> None:
        """Sign a browser out: its key no longer resumes anyone."""
        if not key:
            return
        with self._write() as s:
            s.execute(update(SignIn).where(SignIn.key_hash == hash_token(key), SignIn.ended_at.is_(None)).values(ended_at=now_iso()))

    def mark_tutorial_done(self, annotator_id: int) -> None:
        with self._write() as s:
            ann = s.get(Annotator, annotator_id)
            if ann is not None and ann.tutorial_done_at is None:
                ann.tutorial_done_at = now_iso()

    def _rebalance(self, s: Session, study_id: str) -> None:
        st = s.get(Study, study_id)
        item_ids = list(s.scalars(select(StudyItem.item_id).where(StudyItem.study_id == study_id).order_by(StudyItem.item_id)))
        anns = list(s.scalars(select(Annotator).where(Annotator.study_id == study_id).order_by(Annotator.id)))
        by_id = {a.id: a for a in anns}
        active = [a.name for a in anns if a.revoked_at is None and a.token_hash is not None]
        tasks = list(s.scalars(select(Task).where(Task.study_id == study_id)))
        started = set(s.scalars(select(Task.id).join(Judgment, Judgment.task_id == Task.id).where(Task.study_id == study_id)))
        current: dict[str, dict[str, bool]] = {}
        regular = {}
        for t in tasks:
            if t.is_gold:
                continue
            name = by_id[t.annotator_id].name
            current.setdefault(t.item_id, {})[name] = t.id in started
            regular[(name, t.item_id)] = t
        plan = assignment.balance(item_ids, active, st.overlap, st.seed, current)
        wanted = {(a, i) for i, holders in plan.items() for a in holders}
        stale = [t.id for key, t in regular.items() if key not in wanted and t.id not in started]
        if stale:
            s.execute(delete(Task).where(Task.id.in_(stale)))
        ann_id = {a.name: a.id for a in anns}
        now = now_iso()
        for name, item_id in sorted(wanted - set(regular)):
            s.add(self._new_task(st, ann_id[name], name, item_id, is_gold=False, now=now))
        # Gold items: a fixed number per active annotator, created once.
        have_gold = {(t.annotator_id, t.item_id) for t in tasks if t.is_gold}
        for name in active:
            for item_id in assignment.gold_items(st.seed, name, item_ids, st.gold_per_annotator):
                if (ann_id[name], item_id) not in have_gold:
                    s.add(self._new_task(st, ann_id[name], name, item_id, is_gold=True, now=now))

    @staticmethod
    def _new_task(st: Study, annotator_id: int, name: str, item_id: str, *, is_gold: bool, now: str) -> Task:
        if is_gold:
            tag = st.model_a if assignment.gold_side(st.seed, name, item_id) == "A" else st.model_b
            left, right, swapped = tag, tag, False
        else:
            swapped = assignment.is_swapped(st.seed, item_id, name)
            left, right = (st.model_b, st.model_a) if swapped else (st.model_a, st.model_b)
        return Task(
            id=uuid.uuid4().hex, study_id=st.id, annotator_id=annotator_id, item_id=item_id, is_gold=is_gold,
            left_tag=left, right_tag=right, swapped=swapped,
            position=assignment.queue_position(st.seed, name, item_id, is_gold), created_at=now,
        )

    # -- queues ----------------------------------------------------------------------------------

    def queue(self, annotator_id: int) -> list[TaskInfo]:
        """The annotator's tasks in queue order, each with its current answer (None if unanswered)."""
        with self._read() as s:
            tasks = list(s.scalars(select(Task).where(Task.annotator_id == annotator_id).order_by(Task.position, Task.id)))
            answers = self._current_answers(s, [t.id for t in tasks])
        return [self._task_info(t, answers.get(t.id)) for t in tasks]

    def queue_version(self, annotator_id: int) -> QueueVersion:
        """One aggregate row that changes whenever `queue(annotator_id)` would read something else: a
        page keeps the queue it read and asks this instead of reading the queue again."""
        with self._read() as s:
            row = s.execute(
                select(func.count(func.distinct(Task.id)), func.max(Task.created_at), func.count(Judgment.id), func.max(Judgment.id))
                .select_from(Task).outerjoin(Judgment, Judgment.task_id == Task.id).where(Task.annotator_id == annotator_id)
            ).one()
        return QueueVersion(int(row[0]), row[1], int(row[2]), row[3])

    def task(self, task_id: str) -> TaskInfo:
        with self._read() as s:
            t = s.get(Task, task_id)
            if t is None:
                raise UserError("this item is no longer in your queue (it was reassigned)", hint="go on with the next item")
            return self._task_info(t, self._current_answers(s, [task_id]).get(task_id))

    @staticmethod
    def _task_info(t: Task, answer: dict | None) -> TaskInfo:
        return TaskInfo(t.id, t.study_id, t.annotator_id, t.item_id, t.is_gold, t.left_tag, t.right_tag, t.swapped, t.position, answer)

    @staticmethod
    def _current_answers(s: Session, task_ids: list[str]) -> dict[str, dict]:
        if not task_ids:
            return {}
        latest = (
            select(Judgment.task_id, func.max(Judgment.revision).label("rev"))
            .where(Judgment.task_id.in_(task_ids)).group_by(Judgment.task_id).subquery()
        )
        rows = s.scalars(select(Judgment).join(latest, (Judgment.task_id == latest.c.task_id) & (Judgment.revision == latest.c.rev)))
        return {j.task_id: _answer(j) for j in rows}

    # -- judgments -------------------------------------------------------------------------------

    def submit(
        self,
        task_id: str,
        *,
        annotator_id: int,
        labels: Mapping[str, str | None],
        submission_id: str,
        seconds: float | None = None,
        comment: str | None = None,
        cannot_judge: bool = False,
        source: str = "app",
        created_at: str | None = None,
    ) -> SubmitResult:
        """Store a judgment. Idempotent: the same `submission_id` (a double click, a retried request)
        or an answer identical to the current one (the same form sent from two tabs) returns the
        stored judgment instead of adding one. A different answer supersedes the current one."""
        if source not in SOURCES:
            raise UserError(f"unknown judgment source {source!r}", hint=f"use one of {', '.join(SOURCES)}")
        comment = (comment or "").strip() or None
        for attempt in range(_MAX_SUBMIT_ATTEMPTS):
            try:
                with self._write() as s:
                    return self._submit_once(s, task_id, annotator_id, dict(labels), submission_id, seconds, comment, bool(cannot_judge), source, created_at)
            except IntegrityError:
                # Someone stored the same submission, or another revision of this task, between our
                # read and our insert: read again and decide again.
                continue
        raise UserError(f"could not store the judgment for task {task_id} after {_MAX_SUBMIT_ATTEMPTS} attempts", hint="retry; if it persists, check the database server")

    def _submit_once(self, s, task_id, annotator_id, labels, submission_id, seconds, comment, cannot_judge, source, created_at,
                     partial: bool = False) -> SubmitResult:
        """`partial`: the judgment answers only the dimensions in `labels` (an import from a study
        judged on fewer dimensions); one label row is stored per given dimension."""
        done = s.scalar(select(Judgment).where(Judgment.submission_id == submission_id))
        if done is not None:
            if done.task_id != task_id:
                raise UserError(f"submission id {submission_id!r} was already used for another task", hint="generate a fresh submission id per answer")
            return SubmitResult(done.id, done.revision, False)
        task = s.get(Task, task_id)
        if task is None:
            raise UserError("this item is no longer in your queue (it was reassigned)", hint="go on with the next item")
        if task.annotator_id != annotator_id:
            raise AuthError("this item belongs to another annotator's queue", hint="sign in again")
        ann = s.get(Annotator, annotator_id)
        if source == "app" and (ann is None or ann.revoked_at is not None):
            raise AuthError("your token was revoked; this answer was not stored", hint="ask the study admin for a new token")
        study = s.get(Study, task.study_id)
        dims = [d["name"] for d in study.dimensions]
        _check_labels(labels, dims, cannot_judge or partial)
        if partial and not labels:
            raise UserError("a judgment needs at least one dimension")
        wanted = {d: labels.get(d) for d in dims if not partial or d in labels}
        current = s.scalar(select(Judgment).where(Judgment.task_id == task_id).order_by(Judgment.revision.desc()).limit(1))
        if current is not None:
            old = _answer(current)
            if old["labels"] == wanted and old["cannot_judge"] == cannot_judge and old["comment"] == comment:
                return SubmitResult(current.id, current.revision, False)
        j = Judgment(
            submission_id=submission_id, task_id=task_id, revision=(current.revision + 1) if current else 1,
            supersedes_id=current.id if current else None, seconds=seconds, comment=comment,
            cannot_judge=cannot_judge, source=source, created_at=created_at or now_iso(),
        )
        s.add(j)
        s.flush()
        for d, lab in wanted.items():
            s.add(JudgmentLabel(judgment_id=j.id, dimension=d, screen_label=lab, outcome=to_outcome(lab, task.swapped) if lab else None))
        s.flush()
        return SubmitResult(j.id, j.revision, True)

    def count_judgments(self, study_id: str | None = None, *, include_superseded: bool = True) -> int:
        """Stored judgment rows (one per submit), or current answers (one per answered task)."""
        with self._read() as s:
            col = Judgment.id if include_superseded else func.distinct(Judgment.task_id)
            q = select(func.count(col)).select_from(Judgment).join(Task, Task.id == Judgment.task_id)
            if study_id:
                q = q.where(Task.study_id == study_id)
            return int(s.scalar(q))

    def judgments_frame(self, study_id: str | None = None, *, include_superseded: bool = False, source: str | None = None) -> pd.DataFrame:
        """The judgments in the contract's shape (docs/data-contracts.md), one row per
        (task, annotator, dimension). With include_superseded, adds `revision` and `superseded`."""
        with self._read() as s:
            q = (
                select(
                    Study.id, Study.run_name, StudyItem.item_id, StudyItem.domain, StudyItem.aspect, Annotator.name,
                    Task.id, JudgmentLabel.dimension, JudgmentLabel.screen_label, Study.model_a, Study.model_b,
                    Task.swapped, JudgmentLabel.outcome, Task.is_gold, Judgment.cannot_judge, Judgment.seconds,
                    Judgment.created_at, Judgment.source, Judgment.revision, Judgment.id,
                )
                .select_from(Judgment)
                .join(Task, Task.id == Judgment.task_id)
                .join(Study, Study.id == Task.study_id)
                .join(StudyItem, (StudyItem.study_id == Task.study_id) & (StudyItem.item_id == Task.item_id))
                .join(Annotator, Annotator.id == Task.annotator_id)
                .join(JudgmentLabel, JudgmentLabel.judgment_id == Judgment.id)
            )
            if study_id:
                q = q.where(Study.id == study_id)
            if source:
                q = q.where(Judgment.source == source)
            latest = select(Judgment.task_id, func.max(Judgment.revision).label("rev")).group_by(Judgment.task_id).subquery()
            q = q.join(latest, latest.c.task_id == Judgment.task_id)
            rows = s.execute(q.add_columns(latest.c.rev)).all()
        df = pd.DataFrame(rows, columns=[*FRAME_COLUMNS, "revision", "judgment_id", "latest_revision"])
        if not include_superseded:
            df = df[df["revision"] == df["latest_revision"]]
        df = df.sort_values(["study_id", "annotator", "created_at", "task_id", "revision", "dimension"], kind="stable").reset_index(drop=True)
        df = df.astype({c: t for c, t in JUDGMENT_TYPES.items() if t is not str})
        if include_superseded:
            df["superseded"] = df["revision"] < df["latest_revision"]
            return df[[*FRAME_COLUMNS, "revision", "superseded"]]
        return df[FRAME_COLUMNS]

    def progress(self, study_id: str) -> pd.DataFrame:
        """Per annotator: tasks, done, gold tasks, median seconds per item, last activity."""
        with self._read() as s:
            anns = s.execute(select(Annotator.id, Annotator.name, Annotator.revoked_at).where(Annotator.study_id == study_id).order_by(Annotator.id)).all()
            tasks = s.execute(select(Task.id, Task.annotator_id, Task.is_gold).where(Task.study_id == study_id)).all()
            answers = self._current_answers(s, [t.id for t in tasks])
        rows = []
        for ann_id, name, revoked in anns:
            mine = [t for t in tasks if t.annotator_id == ann_id]
            done = [answers[t.id] for t in mine if t.id in answers]
            secs = pd.Series([a["seconds"] for a in done if a["seconds"] is not None], dtype=float)
            rows.append({
                "annotator": name, "tasks": len(mine), "done": len(done), "gold_tasks": sum(t.is_gold for t in mine),
                "median_seconds": float(secs.median()) if len(secs) else float("nan"),
                "last_activity": max((a["created_at"] for a in done), default=None), "revoked": revoked is not None,
            })
        return pd.DataFrame(rows, columns=["annotator", "tasks", "done", "gold_tasks", "median_seconds", "last_activity", "revoked"])

    # -- import helpers --------------------------------------------------------------------------

    def ensure_import_task(self, study_id: str, annotator: str, item: ItemInfo, *, is_gold: bool, swapped: bool | None, task_id: str | None) -> tuple[str, int, bool, bool]:
        """The task an imported judgment belongs to, created (with an annotator that cannot sign in
        and the item, if new) when missing. `swapped=None` keeps the task's own side (or A on the left
        for a new one). Returns (task id, annotator id, annotator created, task swapped)."""
        with self._write() as s:
            return self._ensure_import_task(s, study_id, annotator, item, is_gold=is_gold, swapped=swapped, task_id=task_id)

    def _ensure_import_task(self, s: Session, study_id, annotator, item, *, is_gold, swapped, task_id) -> tuple[str, int, bool, bool]:
        st = s.get(Study, study_id)
        if s.get(StudyItem, (study_id, item.item_id)) is None:
            s.add(StudyItem(study_id=study_id, item_id=item.item_id, domain=item.domain, aspect=item.aspect, prompt=item.prompt, image_path=item.image_path))
        ann = s.scalar(select(Annotator).where(Annotator.study_id == study_id, Annotator.name == annotator))
        created = ann is None
        if created:
            ann = Annotator(study_id=study_id, name=annotator, token_hash=None, created_at=now_iso())
            s.add(ann)
        s.flush()
        t = s.scalar(select(Task).where(Task.annotator_id == ann.id, Task.item_id == item.item_id, Task.is_gold == is_gold))
        if t is None:
            t = self._new_task(st, ann.id, annotator, item.item_id, is_gold=is_gold, now=now_iso())
            if task_id and s.get(Task, task_id) is None:
                t.id = task_id
            if not is_gold:
                t.swapped = bool(swapped)
                t.left_tag, t.right_tag = (st.model_b, st.model_a) if swapped else (st.model_a, st.model_b)
            s.add(t)
            s.flush()
        elif swapped is not None and not t.is_gold and t.swapped != swapped:
            raise UserError(
                f"annotator {annotator!r} item {item.item_id!r}: the file says swapped={swapped} but the stored task says {t.swapped}",
                hint="import model-relative rows (outcome) or fix the swapped column",
            )
        return t.id, ann.id, created, t.swapped

    @contextmanager
    def import_batch(self):
        """One write transaction for a whole import (`stepeval.human.io.import_judgments`): an
        exception inside leaves the store as it was."""
        with self._write() as s:
            yield ImportBatch(self, s)


class ImportBatch:
    """The store's writes for one import, all in one transaction."""

    def __init__(self, store: AnnotationStore, session: Session):
        self._store, self._s = store, session

    def create_study(self, study_id: str, *, run_name: str, model_a: str, model_b: str, items: Sequence[ItemInfo],
                     protocol: str | None = None) -> None:
        if model_a == model_b or not items:
            raise UserError(f"cannot create study {study_id!r}: it needs two different models and at least one item")
        dimensions, benchmark = _with_protocol(protocol, None, None)
        self._store._add_study(self._s, study_id, run_name=run_name, model_a=model_a, model_b=model_b, items=items, overlap=1,
                               gold_per_annotator=0, seed=0, run_root=None, dimensions=dimensions, benchmark=benchmark,
                               admin_token_hash=None)

    def stored_swapped(self, study_id: str, annotator: str, item_id: str, is_gold: bool) -> bool | None:
        """The side of an existing task (None when the task does not exist yet)."""
        return self._s.scalar(
            select(Task.swapped).join(Annotator, Annotator.id == Task.annotator_id)
            .where(Task.study_id == study_id, Annotator.name == annotator, Task.item_id == item_id, Task.is_gold == is_gold)
        )

    def ensure_task(self, study_id: str, annotator: str, item: ItemInfo, *, is_gold: bool, swapped: bool | None, task_id: str | None) -> tuple[str, int, bool, bool]:
        return self._store._ensure_import_task(self._s, study_id, annotator, item, is_gold=is_gold, swapped=swapped, task_id=task_id)

    def submit(self, task_id: str, *, annotator_id: int, labels: Mapping[str, str | None], submission_id: str, seconds: float | None,
               comment: str | None, cannot_judge: bool, source: str, created_at: str) -> SubmitResult:
        comment = (comment or "").strip() or None
        return self._store._submit_once(self._s, task_id, annotator_id, dict(labels), submission_id, seconds, comment, bool(cannot_judge),
                                        source, created_at, partial=True)


def _with_protocol(protocol: str | None, dimensions: Sequence[Dimension] | None, benchmark: dict | None) -> tuple[tuple[Dimension, ...], dict | None]:
    """(dimensions, benchmark info) of a new study: the template's dimensions unless given, and its
    name recorded beside the benchmark info."""
    if protocol is None:
        return tuple(DIMENSIONS if dimensions is None else dimensions), benchmark
    chosen = get_protocol(protocol)
    return tuple(chosen.dimensions if dimensions is None else dimensions), {**(benchmark or {}), PROTOCOL_KEY: chosen.name}


def _answer(j: Judgment) -> dict:
    return {
        "labels": {lab.dimension: lab.screen_label for lab in j.labels},
        "comment": j.comment,
        "cannot_judge": bool(j.cannot_judge),
        "revision": j.revision,
        "seconds": j.seconds,
        "created_at": j.created_at,
        "judgment_id": j.id,
    }


def _check_labels(labels: Mapping[str, str | None], dims: list[str], cannot_judge: bool) -> None:
    unknown = sorted(set(labels) - set(dims))
    if unknown:
        raise UserError(f"unknown dimension(s): {', '.join(unknown)}", hint=f"the study's dimensions are {', '.join(dims)}")
    for d in dims:
        lab = labels.get(d)
        if lab is None:
            if not cannot_judge:
                raise UserError(f"no answer for {d}", hint="choose Left, Tie or Right for every dimension, or flag the pair as broken")
        elif lab not in SCREEN_LABELS:
            raise UserError(f"{d}: {lab!r} is not one of {', '.join(SCREEN_LABELS)}")
