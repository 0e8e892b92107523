"""Model tags read back: parse_tag inverts model_tag, and a family is the tag less the swept parameter."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepeval.errors import UserError
from stepeval.generation import expand_sweeps, model_tag
from stepeval.generation.tags import motion_request, parse_tag, parse_value, requested_value, tag_family

NAMES = st.from_regex(r"[a-z0-9][a-z0-9_.+:-]{0,20}", fullmatch=True).filter(lambda n: ".." not in n)
KEYS = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True)
# "=" and "@" may appear in a value: a tag splits at its first "@" and each setting at its first "=".
TEXT = st.text(alphabet=string.ascii_letters + string.digits + "_.+:-=@", min_size=1, max_size=12)
VALUES = st.one_of(
    st.integers(-10**9, 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    # A text value is kept as text only when it does not read as another scalar ("5", "yes").
    TEXT.filter(lambda t: parse_value(t) == t and ".." not in t),
)


@given(NAMES, st.dictionaries(KEYS, VALUES, max_size=4))
def test_parse_tag_inverts_model_tag(name, params):
    tag = model_tag(name, params)
    parsed_name, parsed = parse_tag(tag)
    assert parsed_name == name
    assert parsed == params
    assert all(type(parsed[k]) is type(v) for k, v in params.items())
    assert model_tag(parsed_name, parsed) == tag


@given(NAMES, st.dictionaries(KEYS, VALUES, min_size=1, max_size=4))
def test_family_drops_only_the_swept_parameter(name, params):
    tag = model_tag(name, params)
    swept = sorted(params)[0]
    rest = {k: v for k, v in params.items() if k != swept}
    assert tag_family(tag, swept) == model_tag(name, rest)
    assert tag_family(tag, "not_a_parameter") == tag


def test_a_motion_by_cfg_sweep_is_one_family_per_cfg():
    tags = [s.tag for s in expand_sweeps("stepvideo-ti2v", ["motion_score=2,5,10", "cfg=1,3"])]
    families = {t: tag_family(t, "motion_score") for t in tags}
    assert set(families.values()) == {"stepvideo-ti2v@cfg=1", "stepvideo-ti2v@cfg=3"}
    assert sorted(requested_value(t, "motion_score") for t in tags if families[t].endswith("cfg=3")) == [2.0, 5.0, 10.0]
    # With respect to cfg the same tags make three families, one per motion level.
    assert len({tag_family(t, "cfg") for t in tags}) == 3


def test_requested_value_is_a_number_or_none():
    assert requested_value("stepvideo-ti2v@motion_score=5", "motion_score") == 5.0
    assert requested_value("m@cfg=7.5,motion_score=10", "cfg") == 7.5
    assert requested_value("m@motion_scorex=3", "motion_score") is None
    assert requested_value("static", "motion_score") is None
    assert requested_value("camera@motion=pan_left", "motion") is None
    assert requested_value("m@flag=true", "flag") is None  # a switch is not a level


def test_motion_request_knows_both_spellings():
    assert motion_request("stepvideo-ti2v@cfg=3,motion_score=5") == ("motion_score", 5.0)
    assert motion_request("x@a=1,motion=3") == ("motion", 3.0)
    assert motion_request("camera@motion=zoom_in") is None and motion_request("static") is None


@pytest.mark.parametrize("tag", ["mymodel@v2", "m@", "m@a=1,a=2", "m@=1", "plain"])
def test_hand_picked_tags_are_all_name(tag):
    assert parse_tag(tag) == (tag, {})
    assert tag_family(tag, "motion_score") == tag and model_tag(*parse_tag(tag)) == tag


def test_a_comma_in_a_value_would_make_an_ambiguous_tag():
    with pytest.raises(UserError, match="comma"):
        model_tag("m", {"k": "a,b"})


def test_exponent_floats_read_back_as_floats():
    assert parse_value("1e-05") == 1e-05 and parse_value("-2.5E+3") == -2500.0
    assert math.isclose(parse_tag(model_tag("m", {"lr": 1e-16}))[1]["lr"], 1e-16)
