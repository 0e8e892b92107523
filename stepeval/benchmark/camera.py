"""The camera instruction of a prompt, in Chinese or English, as one of VBench-I2V's camera motions.

Used by the `camera` baseline (to move the way the prompt asks) and by VBench-I2V's camera_motion
dimension (which reads the expected motion from an English phrase such as "camera pans left").

Convention (VBench's and cinema's): a motion names what the CAMERA does, so the picture content moves
the opposite way in the frame:

    pan_left   camera turns left   -> content moves RIGHT        tilt_up    camera looks up -> content moves DOWN
    pan_right  camera turns right  -> content moves LEFT         tilt_down  camera looks down -> content moves UP
    zoom_in    content grows from the centre outwards            zoom_out   content shrinks towards the centre

A lateral camera move (镜头向左移动, "camera moves left") is counted as the pan it looks like, a
dolly (镜头向前移动, "dolly in") as the zoom it looks like. Zoom words count only next to a camera
word (镜头推进, 画面放大), except the unambiguous 推近 / 拉远 / 推镜头 / 拉镜头, because 放大 and
推进 alone often describe the subject (瞳孔放大, 军队推进).
Prompts often mention the camera without moving it (看向镜头 "looks at the camera", 镜头跟随
"the camera follows", 镜头抖动 "shakes", 环绕 "orbits"): those give None, as does no mention at all.
When a prompt asks for several moves, `camera_motion` returns the first one (`camera_motions` lists all).
"""

from __future__ import annotations

import re

MOTIONS = ("static", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out")

# The phrases VBench-I2V's camera_motion dimension looks for in a video's name/prompt.
VBENCH_PHRASES = {
    "pan_left": "camera pans left",
    "pan_right": "camera pans right",
    "tilt_up": "camera tilts up",
    "tilt_down": "camera tilts down",
    "zoom_in": "camera zooms in",
    "zoom_out": "camera zooms out",
    "static": "camera static",
}

# -- Chinese ---------------------------------------------------------------------------------------
# A move counts only when it follows a camera word closely (a few adverbs may sit between, such as
# 缓缓/快速/沿着铁链), so subject motion later in the clause (镜头前的女孩向左转身) is not taken for it.
_ZH_CAMERA = r"(?:镜头|摄像机|摄影机|相机|机位|视角)"
_ZH_GAP = r"[^，。,.;；！!？?、\s]{0,8}?"
_ZH_MOVES: tuple[tuple[str, str], ...] = (
    # "from below to above" and friends come first: 从下往上移动 contains 上移-like fragments.
    ("tilt_up", r"(?:从|由)下.{0,4}?(?:往|向|到|至)上"),
    ("tilt_down", r"(?:从|由)上.{0,4}?(?:往|向|到|至)下"),
    ("pan_right", r"(?:从|由)左.{0,4}?(?:往|向|到|至)右"),
    ("pan_left", r"(?:从|由)右.{0,4}?(?:往|向|到|至)左"),
    ("static", r"(?:固定|静止|不动|保持不动)"),
    ("zoom_in", r"(?:推进|推近|拉近|放大|靠近|逼近|前推|推向|(?:向|往)前(?:移动|移|推)|前移)"),
    ("zoom_out", r"(?:拉远|缩小|后拉|远离|拉开|后退|(?:向|往)后(?:移动|移|拉|退)|后移)"),
    ("pan_left", r"(?:(?:向|往|朝)左(?:侧|边)?(?:平移|移动|移|摇|转|平摇|横移)|左移|左摇|左转|左平移)"),
    ("pan_right", r"(?:(?:向|往|朝)右(?:侧|边)?(?:平移|移动|移|摇|转|平摇|横移)|右移|右摇|右转|右平移)"),
    ("tilt_up", r"(?:(?:向|往|朝)上(?:方)?(?:移动|移|摇|抬|升|仰)|上移|上摇|上抬|上升|上仰|仰拍)"),
    ("tilt_down", r"(?:(?:向|往|朝)下(?:方)?(?:移动|移|摇|降|俯)|下移|下摇|下降|下沉)"),
)
# A camera word directly followed by one of these is a place, not an actor: 镜头前 "in front of the
# camera", 镜头下 "under the camera" (but 镜头下移 is a move).
_ZH_NOT_ACTOR = r"(?![前里中外内])(?!下(?![移摇降沉]))"
# A gap holding one of these means the camera follows or circles something; the move is the subject's.
_ZH_FOLLOWING = re.compile(r"跟随|跟着|随着|环绕|围绕|绕着")
_ZH_PATTERNS = [(motion, re.compile(_ZH_CAMERA + _ZH_NOT_ACTOR + _ZH_GAP + "(?:" + rx + ")")) for motion, rx in _ZH_MOVES]
# Moves that read as camera moves even without a camera word before them.
_ZH_STANDALONE = [
    ("static", re.compile(r"固定镜头|固定机位|静止镜头|镜头(?:保持)?(?:固定|静止|不动)")),
    # 左摇/右摇 are pans, but 左右摇晃/左摇右晃 is something swaying: no direction word around them.
    ("pan_left", re.compile(r"(?<![左右上下摇])左摇(?![右晃摆动曳头])")),
    ("pan_right", re.compile(r"(?<![左右上下摇])右摇(?![左晃摆动曳头])")),
    ("tilt_up", re.compile(r"(?<![左右上下摇])上摇(?![下晃摆动曳头])")),
    ("tilt_down", re.compile(r"(?<![左右上下摇])下摇(?![上晃摆动曳头])")),
    ("zoom_in", re.compile(r"画面(?:逐渐|缓缓|慢慢|缓慢|快速|迅速)?(?:放大|拉近|推进|推近)|推镜头|(?<!跟)推近")),
    ("zoom_out", re.compile(r"画面(?:逐渐|缓缓|慢慢|缓慢|快速|迅速)?(?:缩小|拉远)|拉镜头|拉远")),
]

# -- English ---------------------------------------------------------------------------------------
_EN_ADV = r"(?:\s+(?:slowly|quickly|gradually|gently|smoothly|steadily|rapidly|slightly|fast))?"
_EN_CAM = r"(?:camera|shot|view|lens)"
_EN_PATTERNS: list[tuple[str, re.Pattern]] = [
    (m, re.compile(rx, re.IGNORECASE))
    for m, rx in (
        ("static", r"\b(?:static|fixed|still|stationary|locked[- ]off|locked[- ]down)\s+(?:camera|shot)\b"),
        ("static", rf"\b{_EN_CAM}\s+(?:is\s+|remains\s+|stays\s+|holds\s+)?(?:static|still|fixed|stationary)\b"),
        ("pan_left", rf"\bpan(?:s|ning|ned)?{_EN_ADV}\s+(?:to\s+the\s+)?left\b"),
        ("pan_right", rf"\bpan(?:s|ning|ned)?{_EN_ADV}\s+(?:to\s+the\s+)?right\b"),
        ("pan_left", rf"\b{_EN_CAM}\s+(?:moves|turns|swings|rotates|trucks|tracks|slides|pans){_EN_ADV}\s+(?:to\s+the\s+)?left\b"),
        ("pan_right", rf"\b{_EN_CAM}\s+(?:moves|turns|swings|rotates|trucks|tracks|slides|pans){_EN_ADV}\s+(?:to\s+the\s+)?right\b"),
        ("tilt_up", rf"\btilt(?:s|ing|ed)?{_EN_ADV}\s+up(?:ward|wards)?\b"),
        ("tilt_down", rf"\btilt(?:s|ing|ed)?{_EN_ADV}\s+down(?:ward|wards)?\b"),
        ("tilt_up", rf"\b{_EN_CAM}\s+(?:moves|pans|rises|cranes|looks|turns){_EN_ADV}\s+up(?:ward|wards)?\b"),
        ("tilt_down", rf"\b{_EN_CAM}\s+(?:moves|pans|lowers|descends|cranes|looks|turns){_EN_ADV}\s+down(?:ward|wards)?\b"),
        ("zoom_in", rf"\bzoom(?:s|ing|ed)?{_EN_ADV}\s+in\b|\bzoom-in\b"),
        ("zoom_out", rf"\bzoom(?:s|ing|ed)?{_EN_ADV}\s+out\b|\bzoom-out\b"),
        ("zoom_in", rf"\b(?:dolly|dollies|dollying|push(?:es|ing)?)\s+in\b|\b{_EN_CAM}\s+(?:moves|pushes|dollies){_EN_ADV}\s+(?:in|closer|forward)\b"),
        ("zoom_out", rf"\b(?:dolly|dollies|dollying|pull(?:s|ing)?)\s+(?:out|back)\b|\b{_EN_CAM}\s+(?:moves|pulls|dollies){_EN_ADV}\s+(?:out|back|away)\b"),
    )
]


def camera_motions(prompt: str) -> list[str]:
    """Every camera motion the prompt asks for, in the order it mentions them (no repeats)."""
    if not prompt:
        return []
    hits: list[tuple[int, str]] = []
    for motion, pattern in _ZH_PATTERNS:
        # Ordered by where the move word ends, so 镜头先拉远...后推近 gives zoom_out then zoom_in.
        hits.extend((m.end(), motion) for m in pattern.finditer(prompt) if not _ZH_FOLLOWING.search(m.group()))
    for motion, pattern in _ZH_STANDALONE + _EN_PATTERNS:
        hits.extend((m.end(), motion) for m in pattern.finditer(prompt))
    out: list[str] = []
    for _, motion in sorted(hits):
        if motion not in out:
            out.append(motion)
    return out


def camera_motion(prompt: str) -> str | None:
    """The prompt's (first) camera motion: one of MOTIONS, or None when it asks for none."""
    found = camera_motions(prompt)
    return found[0] if found else None


def vbench_phrase(prompt: str) -> str | None:
    """VBench's phrase for the prompt's camera motion ("camera pans left"), or None."""
    motion = camera_motion(prompt)
    return VBENCH_PHRASES[motion] if motion else None
