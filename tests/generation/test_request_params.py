"""Request params: what a generator may vary per request is declared on its class, so a sweep over
them loads the weights once, a sweep over anything else loads once per value, and `--list-models`
shows every model's geometry and sweepable parameters without building it."""

from __future__ import annotations

import inspect

import pytest

from generators.baselines import CameraBaseline
from generators.stepvideo.generator import StepVideoTI2V
from generators.stepvideo.tiny.generator import StepVideoTI2VTiny
from stepeval.benchmark.synthetic import write_smoke_benchmark
from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.generation import registry
from stepeval.generation.protocol import Capabilities
from stepeval.runs import Run


def _count_loads(monkeypatch, cls, loaded=lambda gen: False) -> list:
    """Wrap the class's real `load`; record each call that finds the instance not yet loaded."""
    calls = []
    real = cls.load

    def load(self, device="auto"):
        if not loaded(self):
            calls.append(self)
        return real(self, device)

    monkeypatch.setattr(cls, "load", load)
    return calls


def test_a_motion_score_sweep_loads_the_tiny_model_once(tmp_path, monkeypatch, capsys):
    bench = write_smoke_benchmark(tmp_path / "bench", n=3)
    loads = _count_loads(monkeypatch, StepVideoTI2VTiny, loaded=lambda gen: gen.pipeline is not None)
    run_dir = tmp_path / "run"
    # steps is a request param too: two sampling steps keep the test short without another load.
    code = main(["generate", str(bench), "--model", "stepvideo-ti2v-tiny", "--set", "motion_score=2,5,10", "--set", "steps=2",
                 "--sample", "2", "--present-only", "--run-dir", str(run_dir), "--device", "cpu", "--no-vbench-view"])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert len(loads) == 1
    assert "loaded stepvideo-ti2v-tiny once for 3 settings" in " ".join(err.split())
    df = Run.open(run_dir).generations.read()
    tags = [f"stepvideo-ti2v-tiny@motion_score={m},steps=2" for m in (2, 5, 10)]
    assert sorted(df["model_tag"].unique()) == sorted(tags) and set(df["status"]) == {"ok"} and len(df) == 6
    # One model, three motion requests: same seed and item, different videos.
    assert df.groupby("item_id")["seed"].nunique().eq(1).all()
    videos = {tag: (run_dir / df[df["model_tag"] == tag]["video_path"].iloc[0]).read_bytes() for tag in tags}
    assert len(set(videos.values())) == 3


def test_a_sweep_over_a_load_time_parameter_loads_once_per_value(tmp_path, monkeypatch, capsys):
    bench = write_smoke_benchmark(tmp_path / "bench", n=2)
    loads = _count_loads(monkeypatch, CameraBaseline)
    run_dir = tmp_path / "run"
    code = main(["generate", str(bench), "--model", "camera", "--set", "travel=0.1,0.2,0.3", "--set", "num_frames=4",
                 "--run-dir", str(run_dir), "--device", "cpu", "--no-vbench-view"])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert len(loads) == 3 and len({id(g) for g in loads}) == 3
    assert sorted(g.travel for g in loads) == [0.1, 0.2, 0.3]
    assert "loaded camera once" not in err
    assert len(Run.open(run_dir).generations.read()) == 6


def test_list_models_shows_class_capabilities_of_both_step_video_models(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["generate", "--list-models"]) == 0
    out = capsys.readouterr().out
    rows: dict[str, list[str]] = {}
    name = None
    for line in out.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells[0]:
            name, rows[cells[0]] = cells[0], cells[1:]
        elif name:  # a cell wrapped onto the next line
            rows[name] = [f"{a} {b}".strip() for a, b in zip(rows[name], cells[1:])]
    assert rows["stepvideo-ti2v"][:3] == ["544x992, 992x544", "102, 51, 17", "25"]
    assert rows["stepvideo-ti2v-tiny"][:3] == ["64x64", "17", "8"]
    for name in ("stepvideo-ti2v", "stepvideo-ti2v-tiny"):
        assert "motion_score" in rows[name][3] and "cfg_scale" in rows[name][3] and "steps" in rows[name][3]
    assert "?" not in out
    assert rows["static"][3] == "-"
    assert "guidance_scale" in rows["wan2.1-i2v"][3]


def test_step_video_declares_per_request_params_on_the_class_and_refines_geometry_per_instance(tmp_path):
    assert registry.request_params("stepvideo-ti2v") >= {"motion_score", "cfg_scale", "steps", "time_shift"}
    assert registry.request_params("stepvideo-ti2v-tiny") == StepVideoTI2V.capabilities.request_params
    gen = StepVideoTI2V(tmp_path, sizes=((256, 448),), frame_counts=(17,), fps=12, verbose=False)
    assert gen.capabilities.sizes == ((256, 448),) and gen.capabilities.fps == 12.0 and gen.defaults.fps == 12.0
    assert gen.capabilities.request_params == StepVideoTI2V.capabilities.request_params
    assert StepVideoTI2V.capabilities.sizes == ((544, 992), (992, 544))  # the class is untouched


class _OnlyPerInstance:
    name = "per-instance"

    def __init__(self, motion_score: float = 5.0):
        self.motion_score = motion_score
        self.capabilities = Capabilities(request_params=frozenset({"motion_score"}))

    def load(self, device):
        pass

    def generate(self, request):
        raise NotImplementedError


class _ChangesRequestParams(_OnlyPerInstance):
    capabilities = Capabilities()


@pytest.mark.parametrize("cls,message", [(_OnlyPerInstance, "declares no `capabilities` on its class"),
                                         (_ChangesRequestParams, "an instance declares request_params")])
def test_request_params_declared_only_per_instance_are_refused(cls, message, tmp_path, capsys):
    registry.register("per-instance-test", cls)
    try:
        with pytest.raises(UserError, match=message):
            registry.create("per-instance-test")
        bench = write_smoke_benchmark(tmp_path / "bench", n=1)
        code = main(["generate", str(bench), "--model", "per-instance-test", "--set", "motion_score=2,5",
                     "--run-dir", str(tmp_path / "run")])
        assert code == 2 and message in " ".join(capsys.readouterr().err.split())
    finally:
        registry._registered.pop("per-instance-test")


def test_registered_factory_functions_carry_their_capabilities():
    def factory(**params):
        return CameraBaseline(**params)

    registry.register("factory-test", factory)
    try:
        with pytest.raises(UserError, match="factory.capabilities"):
            registry.request_params("factory-test")
        factory.capabilities = CameraBaseline.capabilities
        assert registry.request_params("factory-test") == frozenset()
        assert isinstance(registry.create("factory-test", {"travel": 0.5}), CameraBaseline)
    finally:
        registry._registered.pop("factory-test")



@pytest.mark.parametrize("name", ["stepvideo-ti2v", "stepvideo-ti2v-tiny", "wan2.1-i2v", "cogvideox-i2v", "static", "external"])
def test_every_request_param_is_also_a_constructor_default(name):
    # A single --set value of a request param must be accepted whatever the config checker reads.
    accepted = set(inspect.signature(registry.get_factory(name)).parameters)
    assert registry.request_params(name) <= accepted
