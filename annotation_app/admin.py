"""The study admin's page: progress, time per item, gold accuracy, agreement, exports."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from stepeval.errors import UserError
from stepeval.human import AnnotationStore, Identity, frame_view, to_csv, to_jsonl
from stepeval.stats import gold_accuracy, krippendorff_alpha, reliability_matrix

ORDINAL = ["B", "tie", "A"]  # B-win < Tie < A-win


def agreement_table(frame: pd.DataFrame, dimensions) -> pd.DataFrame:
    """Krippendorff's alpha (ordinal) per dimension over non-gold, judgeable answers."""
    rows = []
    usable = frame[~frame["is_gold"] & ~frame["cannot_judge"] & frame["outcome"].notna()]
    for dim in dimensions:
        part = usable[usable["dimension"] == dim.name]
        units = part.groupby("item_id")["annotator"].nunique()
        shared = int((units >= 2).sum())
        try:
            data = reliability_matrix(part["item_id"], part["annotator"], part["outcome"])
            alpha = krippendorff_alpha(data.matrix, "ordinal", values=ORDINAL)
            note = "" if alpha == alpha else "no variation in the answers"
        except UserError as exc:
            alpha, note = float("nan"), str(exc).split("\n")[0]
        rows.append({"dimension": dim.title, "alpha (ordinal)": alpha, "items with 2+ annotators": shared, "note": note})
    return pd.DataFrame(rows)


def gold_table(frame: pd.DataFrame) -> pd.DataFrame:
    gold = frame[frame["is_gold"] & frame["outcome"].notna()]
    if gold.empty:
        return pd.DataFrame(columns=["annotator", "gold answers", "correct (Tie)", "accuracy", "95% interval"])
    acc = gold_accuracy(gold["annotator"], gold["outcome"], expected="Tie")
    return pd.DataFrame(
        [{"annotator": name, "gold answers": int(p.trials), "correct (Tie)": int(p.successes), "accuracy": p.estimate, "95% interval": f"{p.low:.2f}-{p.high:.2f}"} for name, p in acc.items()]
    )


def render(store: AnnotationStore, ident: Identity) -> None:
    study = store.study(ident.study_id)
    st.header(f"Study {study.id}")
    st.markdown(f"Run **{study.run_name}** · model A **{study.model_a}** vs model B **{study.model_b}** · "
                f"{len(study.item_ids)} items · overlap {study.overlap} · {study.gold_per_annotator} gold item(s) per annotator · seed {study.seed}  \n"
                f"Protocol **{study.protocol.name}** ({study.protocol.title}): {', '.join(d.title for d in study.dimensions)}")
    progress = store.progress(study.id)
    frame = store.judgments_frame(study.id)
    total, done = int(progress["tasks"].sum()), int(progress["done"].sum())
    st.progress(done / total if total else 0.0, text=f"{done} of {total} tasks judged")

    st.subheader("Progress per annotator")
    st.dataframe(progress, hide_index=True, width="stretch")

    st.subheader("Agreement")
    st.dataframe(agreement_table(frame, study.dimensions), hide_index=True, width="stretch")

    st.subheader("Gold items")
    st.dataframe(gold_table(frame), hide_index=True, width="stretch")

    st.subheader("Time per item")
    if frame.empty:
        st.caption("No judgments yet.")
    else:
        per_task = frame.drop_duplicates("task_id")
        per_item = per_task.groupby("item_id")["seconds"].agg(["count", "median", "max"]).rename(columns={"count": "answers", "median": "median seconds", "max": "max seconds"})
        st.dataframe(per_item, width="stretch")
        st.subheader("Win-Tie-Loss (model A's side, gold items excluded)")
        real = frame[~frame["is_gold"] & frame["outcome"].notna()]
        counts = real.pivot_table(index="dimension", columns="outcome", values="task_id", aggfunc="count", fill_value=0)
        st.dataframe(counts.reindex(columns=["A", "tie", "B"], fill_value=0), width="stretch")

    st.subheader("Export")
    cols = st.columns(3)
    cols[0].download_button("Judgments (JSONL)", to_jsonl(frame), file_name=f"{study.id}-judgments.jsonl", mime="application/jsonl", key="export_jsonl")
    cols[1].download_button("Judgments (CSV)", to_csv(frame), file_name=f"{study.id}-judgments.csv", mime="text/csv", key="export_csv")
    cols[2].download_button("Model-relative (CSV)", to_csv(frame_view(frame, "model")), file_name=f"{study.id}-model-view.csv", mime="text/csv", key="export_model_csv")
