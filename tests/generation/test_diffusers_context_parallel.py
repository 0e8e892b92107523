"""The `context_parallel` option of the diffusers adapters: how it is written, and every refusal.

diffusers' context parallelism cannot run on this CPU-only machine: `enable_parallelism` places each
rank on `rank % torch.accelerator.device_count()`, which is a division by zero without an
accelerator (tried with two gloo ranks under torchrun: ZeroDivisionError on both). So what is tested
here is the option, the checks made before diffusers is called, and that a CPU run is refused with a
message instead of that error; the collective itself needs CUDA with NCCL."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generators.diffusers_parallel import ContextParallel, check_placement, check_supported
from stepeval.errors import UserError


@given(ring=st.integers(1, 16), ulysses=st.integers(1, 16))
def test_every_spelling_of_the_option_reads_the_same(ring, ulysses):
    as_dict = ContextParallel.parse({"ring_degree": ring, "ulysses_degree": ulysses})
    as_text = ContextParallel.parse(f"ring:{ring}+ulysses:{ulysses}")
    swapped = ContextParallel.parse(f"ulysses={ulysses} + ring_degree={ring}")
    assert as_dict == as_text == swapped
    if ring * ulysses == 1:
        assert as_dict is None  # no parallelism at all; diffusers would refuse a 1 x 1 config
    else:
        assert (as_dict.ring_degree, as_dict.ulysses_degree, as_dict.degree) == (ring, ulysses, ring * ulysses)
        assert ContextParallel.parse(as_dict.to_dict()) == as_dict


@pytest.mark.parametrize("value", ["ulysses", "ring:2+ring:2", "tensor:2", {"ring": 2}, {"ulysses_degree": "2"}, {"ulysses_degree": True},
                                   {"ring_degree": 0, "ulysses_degree": 2}, 4.5])  # fmt: skip
def test_what_is_not_a_context_parallel_spec_is_refused(value):
    with pytest.raises(UserError) as err:
        ContextParallel.parse(value)
    assert "context_parallel" in str(err.value) and "ulysses" in err.value.hint


def test_the_group_must_match_and_the_ranks_must_be_on_gpus():
    cp = ContextParallel(ring_degree=2, ulysses_degree=4)
    with pytest.raises(UserError) as err:
        check_placement(cp, "cuda:0", sp_degree=4, world_size=8)
    assert "8 ranks" in str(err.value) and "--sp-degree 8" in err.value.hint and "torchrun" in err.value.hint
    with pytest.raises(UserError) as err:
        check_placement(cp, "cpu", sp_degree=8, world_size=8)
    assert "needs an accelerator" in str(err.value)
    check_placement(cp, "cuda:3", sp_degree=8, world_size=16)  # two groups of eight: fine


@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("diffusers", reason="the diffusers extra is not installed")
    from tests.generation import tiny_diffusers

    return tiny_diffusers


def test_a_transformer_without_a_cp_plan_is_refused_by_name(tiny):
    with pytest.raises(UserError) as err:
        check_supported(tiny.cogvideox_i2v(), ContextParallel(ulysses_degree=2), "CogVideoXImageToVideoPipeline")
    assert "CogVideoXTransformer3DModel" in str(err.value) and "no _cp_plan" in str(err.value) and "--sp-degree 1" in err.value.hint


def test_ulysses_must_divide_the_heads_of_every_transformer(tiny):
    pipe = tiny.wan22_i2v_a14b()  # two transformers, 2 heads each
    check_supported(pipe, ContextParallel(ring_degree=4, ulysses_degree=2), "WanImageToVideoPipeline")
    with pytest.raises(UserError) as err:
        check_supported(pipe, ContextParallel(ulysses_degree=4), "WanImageToVideoPipeline")
    assert "2 attention heads" in str(err.value) and "ring_degree" in err.value.hint


def test_a_cpu_run_with_context_parallel_is_refused_before_any_weights_are_read(tmp_path):
    pytest.importorskip("diffusers", reason="the diffusers extra is not installed")
    from generators.diffusers_i2v import DiffusersPipeline

    gen = DiffusersPipeline("WanImageToVideoPipeline", model=str(tmp_path / "not-there"), context_parallel="ulysses:2")
    assert gen.parameters["context_parallel"] == {"ring_degree": 1, "ulysses_degree": 2}
    with pytest.raises(UserError) as err:  # a single process: its group is 1 rank, not 2
        gen.load("cpu")
    assert "splits each video over 2 ranks" in str(err.value)
