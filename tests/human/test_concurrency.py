"""8 annotators submitting 50 judgments each at once, through the app's submit path."""

from __future__ import annotations

import threading
import uuid

from stepeval.human import DIMENSION_NAMES, AnnotationStore, ItemInfo

ANNOTATORS = 8
PER_ANNOTATOR = 50


def test_eight_annotators_fifty_judgments_each(db_url):
    setup = AnnotationStore(db_url)
    items = [ItemInfo(f"real/H/{i:03d}", "real", "H", "", None) for i in range(PER_ANNOTATOR)]
    setup.create_study("s", run_name="r", model_a="ma", model_b="mb", items=items, overlap=ANNOTATORS)
    tokens = [setup.add_annotator("s", f"ann{n}") for n in range(ANNOTATORS)]
    setup.close()

    store = AnnotationStore(db_url)  # one store shared by all threads, as in the Streamlit server
    barrier = threading.Barrier(ANNOTATORS)
    errors: list[BaseException] = []

    def annotate(token: str) -> None:
        try:
            ident = store.authenticate(token)
            queue = store.queue(ident.annotator_id)
            assert len(queue) == PER_ANNOTATOR
            barrier.wait()
            for n, task in enumerate(queue):
                labels = {d: ("left", "tie", "right")[(n + i) % 3] for i, d in enumerate(DIMENSION_NAMES)}
                sid = uuid.uuid4().hex
                store.submit(task.id, annotator_id=ident.annotator_id, labels=labels, submission_id=sid, seconds=1.0)
                if n % 5 == 0:  # a double click: the same submission again
                    again = store.submit(task.id, annotator_id=ident.annotator_id, labels=labels, submission_id=sid, seconds=1.0)
                    assert not again.created
        except BaseException as exc:  # surfaced below; a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=annotate, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert store.count_judgments("s") == ANNOTATORS * PER_ANNOTATOR
    frame = store.judgments_frame("s")
    assert len(frame) == ANNOTATORS * PER_ANNOTATOR * len(DIMENSION_NAMES)
    per_task = frame.groupby("task_id").size()
    assert len(per_task) == ANNOTATORS * PER_ANNOTATOR and (per_task == len(DIMENSION_NAMES)).all()
    assert (frame.groupby("annotator")["task_id"].nunique() == PER_ANNOTATOR).all()
    store.close()
