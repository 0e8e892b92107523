"""Model tags and sweeps, per-video seeds, the registry, the protocol's size resolution."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from stepeval.errors import UserError
from stepeval.generation import GenerationRequest, GenerationResult, derive_seed, expand_sweeps, model_tag, parse_set, registry
from stepeval.generation.protocol import Capabilities
from stepeval.generation.tags import specs_from_config


def test_model_tag_sorts_keys_and_keeps_values_as_written():
    assert model_tag("static", {}) == "static"
    assert model_tag("stepvideo-ti2v", {"motion_score": 5, "cfg": 9.0}) == "stepvideo-ti2v@cfg=9.0,motion_score=5"
    specs = expand_sweeps("stepvideo-ti2v", ["motion_score=2,5,10,20"])
    assert [s.tag for s in specs] == [f"stepvideo-ti2v@motion_score={v}" for v in (2, 5, 10, 20)]
    assert [s.params["motion_score"] for s in specs] == [2, 5, 10, 20]  # parsed as YAML scalars
    # "as written": 5.0 stays 5.0 in the tag, and its value is a float.
    (spec,) = expand_sweeps("camera", ["travel=0.50"])
    assert spec.tag == "camera@travel=0.50" and spec.params == {"travel": 0.5}


def test_several_set_options_make_the_product():
    specs = expand_sweeps("m", ["a=1,2", "b=x,y,z"])
    assert len(specs) == 6 and len({s.tag for s in specs}) == 6
    assert specs[0].tag == "m@a=1,b=x" and specs[-1].tag == "m@a=2,b=z"


@pytest.mark.parametrize("bad", ["motion_score", "=5", "motion score=5", "k=", "k=1,,2", "k=1,1"])
def test_bad_set_syntax_is_a_user_error(bad):
    with pytest.raises(UserError, match="--set"):
        parse_set(bad)


def test_a_value_that_cannot_be_a_folder_name_asks_for_an_explicit_tag():
    with pytest.raises(UserError, match="--tag"):
        expand_sweeps("wan2.1-i2v", ["model_path=/models/wan"])
    (spec,) = expand_sweeps("wan2.1-i2v", ["model_path=/models/wan"], tag="wan-local")
    assert spec.tag == "wan-local" and spec.params == {"model_path": "/models/wan"}


def test_config_models_with_params_sweeps_and_duplicates():
    specs = specs_from_config([{"name": "static"}, {"name": "camera", "params": {"travel": 0.5}, "sweep": {"fallback": ["static", "zoom_in"]}}])
    assert [s.tag for s in specs] == ["static", "camera@fallback=static,travel=0.5", "camera@fallback=zoom_in,travel=0.5"]
    with pytest.raises(UserError, match="same tag"):
        specs_from_config(["static", {"name": "static"}])
    with pytest.raises(UserError, match="unknown key"):
        specs_from_config([{"name": "static", "parmas": {}}])


def test_seeds_are_stable_across_processes_and_depend_on_every_input():
    s = derive_seed(0, "real/H/002", 0)
    assert 0 <= s < 2**63
    assert len({derive_seed(r, i, k) for r in (0, 1) for i in ("real/H/002", "real/H/003") for k in (0, 1, 2)}) == 12
    # Python's hash() is salted per process; ours must not be.
    code = "from stepeval.generation import derive_seed; print(derive_seed(0, 'real/H/002', 0))"
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": h}, check=True).stdout.strip()
        for h in ("1", "2")
    }
    assert outs == {str(s)}


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UserError) as err:
        registry.get_factory("no-such-model")
    msg = str(err.value)
    assert "no-such-model" in msg and "static" in msg and "camera" in msg and "noise" in msg


def test_registry_builds_entry_point_generators_and_checks_their_parameters():
    gen = registry.create("static", {"height": 32, "width": 48})
    assert gen.name == "static" and gen.capabilities.frame_counts == (102,)
    with pytest.raises(UserError, match="bad parameters"):
        registry.create("camera", {"motion": "sideways"})


def test_register_adds_a_generator_in_process():
    class Mine:
        name = "mine"
        capabilities = Capabilities()

        def __init__(self, k: int = 1):
            self.k = k

        def load(self, device):
            pass

        def generate(self, request):
            raise NotImplementedError

    registry.register("mine-test", Mine)
    try:
        assert "mine-test" in registry.available()
        assert registry.create("mine-test", {"k": 3}).k == 3
        with pytest.raises(UserError, match="no parameter"):
            registry.create("mine-test", {"q": 3})
    finally:
        registry._registered.pop("mine-test")


def test_capabilities_pick_the_bucket_closest_to_the_image_aspect(tmp_path):
    caps = Capabilities(sizes=((544, 992), (992, 544), (736, 736)), frame_counts=(102, 51), fps=25)
    for (w, h), expected in {(1600, 900): (544, 992), (900, 1600): (992, 544), (1000, 1040): (736, 736)}.items():
        Image.new("RGB", (w, h)).save(tmp_path / "i.png")
        req = GenerationRequest("x", "p", tmp_path / "i.png", seed=0)
        assert caps.resolve(req)[:2] == expected
    assert caps.resolve(GenerationRequest("x", "p", tmp_path / "i.png", 0, height=64, width=32, num_frames=51, fps=8)) == (64, 32, 51, 8.0)


def test_result_rejects_frames_of_the_wrong_kind():
    with pytest.raises(ValueError):
        GenerationResult(frames=np.zeros((2, 8, 8, 3), dtype=np.float32), fps=8)
    with pytest.raises(ValueError):
        GenerationResult(frames=np.zeros((0, 8, 8, 3), dtype=np.uint8), fps=8)
