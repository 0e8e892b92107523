"""The annotator's queue as one browser tab keeps it between page turns.

Reading the whole queue back on every page turn (every task, with its current judgment and labels)
was the largest part of a submit's store work, and it grows with the queue. The store changes a queue
in two ways only, both visible in `AnnotationStore.queue_version` (one aggregate row): a rebalance
adds or removes tasks, and a submit appends a judgment. So the tab reads the queue again only when
the version is not the one it expects. Its own submit it does expect: one more judgment, with the id
the store returned; that task's stored answer is read back, alone, when the task is shown again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from stepeval.human import AnnotationStore, SubmitResult, TaskInfo
from stepeval.human.store import QueueVersion

KEY = "queue"


@dataclass
class PageQueue:
    annotator_id: int
    version: QueueVersion
    tasks: list[TaskInfo]
    # Answered from this tab since the queue was read: answered for certain, but the answer the store
    # kept (a repeated submit keeps the first) is read when the task is shown.
    unread: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.tasks)

    def answered(self, task: TaskInfo) -> bool:
        return task.answer is not None or task.id in self.unread

    def done(self) -> int:
        return sum(self.answered(t) for t in self.tasks)

    def first_open(self) -> int:
        """Where the annotator left off: the first task without an answer."""
        return next((i for i, t in enumerate(self.tasks) if not self.answered(t)), len(self.tasks))

    def task(self, store: AnnotationStore, idx: int) -> TaskInfo:
        """The task at `idx`, with its current answer."""
        task = self.tasks[idx]
        if task.id in self.unread:
            task = self.tasks[idx] = store.task(task.id)
            self.unread.discard(task.id)
        return task

    def upcoming(self, idx: int, n: int) -> list[TaskInfo]:
        return self.tasks[idx + 1: idx + 1 + n]

    def stored(self, task_id: str, result: SubmitResult) -> None:
        if result.created:
            v = self.version
            self.version = v._replace(judgments=v.judgments + 1, newest_judgment=result.judgment_id)
        self.unread.add(task_id)


def current(store: AnnotationStore, annotator_id: int) -> PageQueue:
    """The tab's queue, read again only when the store's version differs from the expected one (a
    rebalance, or an answer given in another tab)."""
    queue = st.session_state.get(KEY)
    version = store.queue_version(annotator_id)
    if queue is None or queue.annotator_id != annotator_id or queue.version != version:
        # Read after the version: a change in between makes the next page turn read it again.
        queue = st.session_state[KEY] = PageQueue(annotator_id, version, store.queue(annotator_id))
    return queue


def stored(task_id: str, result: SubmitResult) -> None:
    """This tab's submit of `task_id` was stored (or found already stored)."""
    queue = st.session_state.get(KEY)
    if queue is not None:
        queue.stored(task_id, result)
