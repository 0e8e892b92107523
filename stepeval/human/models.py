"""SQLAlchemy tables of the annotation store.

Judgments are append-only: a changed answer is a new row with the next `revision` of its task;
`unique(task_id, revision)` makes "one current answer per task" a database guarantee even when two
tabs or two servers submit at once, and `unique(submission_id)` makes a repeated submit (double
click, network retry) a no-op. Tasks are assignment, not evidence: unstarted ones may be
re-balanced when annotators join or leave; a task with a judgment is never removed.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_name: Mapped[str] = mapped_column(String(255))
    run_root: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_a: Mapped[str] = mapped_column(String(255))
    model_b: Mapped[str] = mapped_column(String(255))
    dimensions: Mapped[list] = mapped_column(JSON)
    overlap: Mapped[int] = mapped_column(Integer)
    gold_per_annotator: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    admin_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    benchmark: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))

    items: Mapped[list[StudyItem]] = relationship(back_populates="study", order_by="StudyItem.item_id")
    annotators: Mapped[list[Annotator]] = relationship(back_populates="study", order_by="Annotator.id")


class StudyItem(Base):
    __tablename__ = "study_items"

    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    domain: Mapped[str] = mapped_column(String(64), default="")
    aspect: Mapped[str] = mapped_column(String(64), default="")
    prompt: Mapped[str] = mapped_column(Text, default="")
    image_path: Mapped[str | None] = mapped_column(Text, nullable=True)

    study: Mapped[Study] = relationship(back_populates="items")


class Annotator(Base):
    __tablename__ = "annotators"
    __table_args__ = (UniqueConstraint("study_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"))
    name: Mapped[str] = mapped_column(String(255))
    # sha256 of the token: tokens are 32 random bytes, so a fast hash is enough to make a leaked
    # database useless for signing in. Imported annotators have no token and cannot sign in.
    token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    created_at: Mapped[str] = mapped_column(String(40))
    revoked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    tutorial_done_at: Mapped[str | None] = mapped_column(String(40), nullable=True)

    study: Mapped[Study] = relationship(back_populates="annotators")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("annotator_id", "item_id", "is_gold"),
        Index("ix_tasks_study_item", "study_id", "item_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # opaque, random
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(255))
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    left_tag: Mapped[str] = mapped_column(String(255))
    right_tag: Mapped[str] = mapped_column(String(255))
    swapped: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[str] = mapped_column(String(64))  # seeded sort key of the annotator's queue
    created_at: Mapped[str] = mapped_column(String(40))


class Judgment(Base):
    __tablename__ = "judgments"
    __table_args__ = (UniqueConstraint("task_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(String(64), unique=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    cannot_judge: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="app")
    created_at: Mapped[str] = mapped_column(String(40))

    labels: Mapped[list[JudgmentLabel]] = relationship(order_by="JudgmentLabel.dimension", lazy="selectin")


class JudgmentLabel(Base):
    __tablename__ = "judgment_labels"

    judgment_id: Mapped[int] = mapped_column(ForeignKey("judgments.id"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(64), primary_key=True)
    screen_label: Mapped[str | None] = mapped_column(String(8), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(8), nullable=True)


class SignIn(Base):
    """A browser's sign-in: the app keeps a random key in a cookie so that a reload resumes the
    signed-in annotator without the access token ever being stored in the browser or the URL. Only
    the key's hash is stored; signing out ends the row, and it expires on its own."""

    __tablename__ = "sign_ins"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"))
    annotator_id: Mapped[int | None] = mapped_column(ForeignKey("annotators.id"), nullable=True)  # None: the study admin
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    ended_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
