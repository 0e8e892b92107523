"""`stepeval annotate ...` end to end through the real CLI entry point."""

from __future__ import annotations

import json
import re

from stepeval.cli.main import main
from stepeval.human import DIMENSION_NAMES, AnnotationStore
from tests.human.helpers import MODEL_A, MODEL_B, make_run


def _tokens(out: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\S+): (\S{40,})$", out, flags=re.M))


def test_cli_study_lifecycle(tmp_path, step_eval_root, capsys):
    run, ids = make_run(tmp_path, step_eval_root, n_items=3, skip={MODEL_B: ["anime/H/021"]})
    root = str(run.root)

    assert main(["annotate", "create-study", root, "--model-a", MODEL_A, "--model-b", MODEL_B, "--study-id", "s"]) == 2
    err = capsys.readouterr().err
    assert "anime/H/021" in err and "missing 1 of 3" in err

    assert main(["annotate", "create-study", root, "--model-a", MODEL_A, "--model-b", MODEL_B, "--study-id", "s",
                 "--exclude-missing", "--overlap", "2", "--gold", "1", "--annotator", "alice", "--annotator", "bob"]) == 0
    out = capsys.readouterr().out
    tokens = _tokens(out)
    assert set(tokens) == {"admin", "alice", "bob"} and "left out 1 item" in out

    assert main(["annotate", "add-annotator", root, "carol"]) == 0
    tokens.update(_tokens(capsys.readouterr().out))
    store = AnnotationStore.open(run_root=run.root)
    ident = store.authenticate(tokens["carol"])
    for n, task in enumerate(store.queue(ident.annotator_id)):
        store.submit(task.id, annotator_id=ident.annotator_id, labels={d: "tie" for d in DIMENSION_NAMES}, submission_id=f"c{n}")

    assert main(["annotate", "status", root, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    by_name = {a["annotator"]: a for a in status["annotators"]}
    assert status["items"] == 2 and by_name["carol"]["done"] == by_name["carol"]["tasks"] > 0

    out_file = tmp_path / "j.csv"
    assert main(["annotate", "export", root, str(out_file), "--view", "model"]) == 0
    header = out_file.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert "outcome" in header and "screen_label" not in header and "swapped" not in header

    other = tmp_path / "other.sqlite"
    assert main(["annotate", "import", root, str(out_file), "--db", str(other)]) == 0
    assert "imported" in capsys.readouterr().out
    assert AnnotationStore.open(db=str(other)).count_judgments() == store.count_judgments()

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"item_id": "x"}\n', encoding="utf-8")
    assert main(["annotate", "import", root, str(bad)]) == 2
    assert "line 1: missing annotator" in capsys.readouterr().err

    assert main(["annotate", "revoke-annotator", root, "alice"]) == 0
    capsys.readouterr()
    assert main(["annotate", "status", root]) == 0
    assert "yes" in capsys.readouterr().out  # the revoked column

    assert main(["annotate", "status", str(tmp_path / "nope")]) == 2
    assert "not a stepeval run directory" in capsys.readouterr().err
