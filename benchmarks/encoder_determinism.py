"""Is an encoded video a function of its frames alone? And what does stepeval's x264 setting cost?

    python benchmarks/encoder_determinism.py [--repeat 20]

For x264's own choice of instruction set and for stepeval's (`stepeval.video.X264_OPTIONS`, AVX2 on
an AVX-512 CPU), encodes the same clips `--repeat` times in each of three processes whose
fresh heap memory holds different bytes (glibc MALLOC_PERTURB_ unset / 85 / 170) and counts the
distinct files. Then times a 544x992x102 write with each setting (same process, alternating).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = [(6, 48, 64), (17, 64, 64), (17, 272, 496)]
_CHILD = """
import hashlib, io, json, sys
import av, numpy as np
sys.path.insert(0, {bench!r})
from encoder_determinism import encode
options, repeat = json.loads(sys.argv[1]), int(sys.argv[2])
out = {{}}
for t, h, w in {sizes!r}:
    frames = np.load(sys.argv[3] + f"/{{t}}x{{h}}x{{w}}.npy")
    out[f"{{t}}x{{h}}x{{w}}"] = [hashlib.sha1(encode(frames, options)).hexdigest()[:12] for _ in range(repeat)]
print(json.dumps(out))
"""


def pattern(frames: int, height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([np.stack([127 + 100 * np.sin((x + 6 * t) / 45.0), 127 + 100 * np.cos((y + 3 * t) / 60.0),
                               127 + 60 * np.sin((x + y) / 90.0 + t / 5.0)], -1) for t in range(frames)]).astype(np.uint8)


def encode(frames: np.ndarray, options: dict) -> bytes:
    """stepeval.video.write_video's encoder settings, into memory, with `options` for x264."""
    import io

    import av

    from stepeval.video import DEFAULT_CRF, DEFAULT_PRESET, DEFAULT_THREADS

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=25)
        s.height, s.width, s.pix_fmt = frames.shape[1], frames.shape[2], "yuv420p"
        s.options = {"crf": str(DEFAULT_CRF), "preset": DEFAULT_PRESET, "threads": str(DEFAULT_THREADS), **options}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


def main() -> None:
    from stepeval.video import X264_OPTIONS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    settings = {"x264 default": {}, "stepeval (X264_OPTIONS)": X264_OPTIONS}
    print(f"X264_OPTIONS on this CPU: {X264_OPTIONS or '{} (no AVX-512: x264 default)'}")
    with tempfile.TemporaryDirectory() as tmp:
        for t, h, w in SIZES:
            np.save(Path(tmp) / f"{t}x{h}x{w}.npy", pattern(t, h, w))
        code = _CHILD.format(bench=str(Path(__file__).parent), sizes=SIZES)
        for name, options in settings.items():
            digests: dict[str, set] = {}
            for fill in (None, "85", "170"):
                env = {k: v for k, v in os.environ.items() if k != "MALLOC_PERTURB_"}
                if fill:
                    env["MALLOC_PERTURB_"] = fill
                res = subprocess.run([sys.executable, "-c", code, json.dumps(options), str(args.repeat), tmp],
                                     env=env, capture_output=True, text=True, check=True)
                for size, ds in json.loads(res.stdout).items():
                    digests.setdefault(size, set()).update(ds)
            cells = ", ".join(f"{size}: {len(ds)}" for size, ds in digests.items())
            print(f"{name}: distinct files over 3 heaps x {args.repeat} encodes -> {cells}")
    big = pattern(102, 544, 992)
    times: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(3):
        for name, options in settings.items():
            t0 = time.perf_counter()
            encode(big, options)
            times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        print(f"{name}: 544x992x102 encode {min(ts):.2f} s (best of 3), {102 / min(ts):.1f} fps")


if __name__ == "__main__":
    main()
