"""Charts as lists of SVG primitives (tag, attributes, text), drawn by one template macro.

Why primitives instead of SVG strings: the template writes every attribute value and text through
Jinja's autoescape, so a model tag or a label can never inject markup into a chart; the geometry is
plain numbers computed here and easy to test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
WIN, TIE, LOSS = "#16a34a", "#cbd5e1", "#dc2626"
FONT = 12


@dataclass
class Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    title: str = ""  # tooltip
    href: str = ""  # a link (to the videos behind a point), relative to the page
    ref: tuple = ()  # what the element stands for, for whoever adds links: (series, x) of a point, (label,) of a row


@dataclass
class Chart:
    key: str
    title: str
    width: int
    height: int
    elements: list[Element]
    caption: str = ""
    kind: str = ""


def _f(v: float) -> str:
    return f"{v:.1f}"


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = FONT, weight: str = "normal",
          fill: str = "#1f2937", baseline: str = "middle", cls: str = "") -> Element:
    attrs = {"x": _f(x), "y": _f(y), "text-anchor": anchor, "font-size": str(size), "font-weight": weight,
             "fill": fill, "dominant-baseline": baseline}
    if cls:
        attrs["class"] = cls
    return Element("text", attrs, text)


def _line(x1, y1, x2, y2, stroke="#9ca3af", width=1.0, dash="") -> Element:
    attrs = {"x1": _f(x1), "y1": _f(y1), "x2": _f(x2), "y2": _f(y2), "stroke": stroke, "stroke-width": f"{width:g}"}
    if dash:
        attrs["stroke-dasharray"] = dash
    return Element("line", attrs)


def _rect(x, y, w, h, fill, title="", stroke="") -> Element:
    attrs = {"x": _f(x), "y": _f(y), "width": _f(max(w, 0.0)), "height": _f(max(h, 0.0)), "fill": fill}
    if stroke:
        attrs["stroke"] = stroke
    return Element("rect", attrs, title=title)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values whose first tick is <= lo and last tick >= hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    n = int(round((last - first) / step))
    return [round(first + i * step, 10) for i in range(n + 1)]


MAX_LABEL = 44  # characters; longer labels are shortened, the full text stays in the tooltip


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "\u2026"


def _label_width(labels: list[str], size: int = FONT) -> float:
    return max((len(_short(s)) for s in labels), default=4) * size * 0.6 + 14


def forest(key: str, title: str, rows: list[tuple[str, float, float, float]], *, axis_label: str,
           reference: float | None = None, caption: str = "") -> Chart:
    """Horizontal point estimates with interval whiskers, one row per label (e.g. Elo with 95% CI)."""
    label_w = _label_width([r[0] for r in rows])
    width, row_h, top, bottom = int(label_w + 560), 26, 34, 44
    height = top + row_h * max(len(rows), 1) + bottom
    values = [v for r in rows for v in r[1:] if v is not None and math.isfinite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or 1.0
    ticks = nice_ticks(lo - pad, hi + pad)
    x0, x1 = label_w, width - 20
    tmin, tmax = ticks[0], ticks[-1]

    def sx(v: float) -> float:
        return x0 + (v - tmin) / (tmax - tmin) * (x1 - x0)

    els: list[Element] = [_text(x0, 14, title, weight="600", size=13)]
    plot_bottom = top + row_h * len(rows)
    for t in ticks:
        els.append(_line(sx(t), top - 6, sx(t), plot_bottom, stroke="#e5e7eb"))
        els.append(_text(sx(t), plot_bottom + 14, f"{t:g}", anchor="middle", size=11, fill="#4b5563"))
    if reference is not None and tmin <= reference <= tmax:
        els.append(_line(sx(reference), top - 6, sx(reference), plot_bottom, stroke="#6b7280", dash="4 3"))
    for i, (label, est, low, high) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        els.append(_text(x0 - 8, y, _short(label), anchor="end"))
        els[-1].title = label
        color = PALETTE[i % len(PALETTE)]
        if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
            els.append(_line(sx(low), y, sx(high), y, stroke=color, width=2.5))
            els.append(_line(sx(low), y - 5, sx(low), y + 5, stroke=color, width=2))
            els.append(_line(sx(high), y - 5, sx(high), y + 5, stroke=color, width=2))
        if est is not None and math.isfinite(est):
            tip = f"{label}: {est:.1f}" + (f" [{low:.1f}, {high:.1f}]" if low is not None and math.isfinite(low) else "")
            els.append(Element("circle", {"cx": _f(sx(est)), "cy": _f(y), "r": "5", "fill": color}, title=tip, ref=(label,)))
    els.append(_text((x0 + x1) / 2, height - 10, axis_label, anchor="middle", size=11, fill="#374151"))
    return Chart(key, title, width, height, els, caption, kind="forest")


def stacked_bars(key: str, title: str, rows: list[tuple[str, int, int, int]], *, caption: str = "",
                 labels: tuple[str, str, str] = ("Win", "Tie", "Loss")) -> Chart:
    """100% stacked horizontal bars of W / T / L per row, with counts in the segments and a legend."""
    label_w = _label_width([r[0] for r in rows])
    width, row_h, top = int(label_w + 560), 24, 44
    height = top + row_h * max(len(rows), 1) + 16
    x0, x1 = label_w, width - 20
    els: list[Element] = [_text(x0, 14, title, weight="600", size=13)]
    for j, (name, color) in enumerate(zip(labels, (WIN, TIE, LOSS))):
        lx = x0 + j * 90
        els.append(_rect(lx, 26, 12, 12, color))
        els.append(_text(lx + 17, 32, name, size=11))
    for i, (label, w, t, l) in enumerate(rows):
        y = top + row_h * i + 2
        n = w + t + l
        els.append(_text(x0 - 8, y + (row_h - 4) / 2, _short(label), anchor="end"))
        els[-1].title = label
        if n == 0:
            els.append(_text(x0 + 4, y + (row_h - 4) / 2, "no judgments", fill="#6b7280", size=11))
            continue
        x = x0
        for count, color, name in ((w, WIN, labels[0]), (t, TIE, labels[1]), (l, LOSS, labels[2])):
            seg = (x1 - x0) * count / n
            if seg > 0:
                els.append(_rect(x, y, seg, row_h - 4, color, title=f"{label}: {name} {count} of {n} ({count / n:.0%})"))
                if seg > 22:
                    els.append(_text(x + seg / 2, y + (row_h - 4) / 2, str(count), anchor="middle", size=11,
                                     fill="#ffffff" if color != TIE else "#1f2937"))
            x += seg
    return Chart(key, title, width, height, els, caption, kind="stacked")


def _heat_color(v: float) -> str:
    """Diverging red (0) - white (0.5) - green (1)."""
    v = min(max(v, 0.0), 1.0)
    if v < 0.5:
        a = (0.5 - v) / 0.5
        r, g, b = 255, int(255 - a * (255 - 110)), int(255 - a * (255 - 110))
    else:
        a = (v - 0.5) / 0.5
        r, g, b = int(255 - a * (255 - 80)), int(255 - a * (255 - 180)), int(255 - a * (255 - 120))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(key: str, title: str, models: list[str], values, counts=None, *, caption: str = "") -> Chart:
    """Win-fraction matrix: cell (row i, column j) = row model's score against the column model."""
    k = len(models)
    cell = 56 if k <= 8 else 40
    label_w = _label_width(models)
    top = 40 + int(min(140, max((len(m) for m in models), default=4) * 6.5))
    width = int(label_w + cell * k + 30)
    height = int(top + cell * k + 56)
    els: list[Element] = [_text(8, 14, title, weight="600", size=13)]
    for j, m in enumerate(models):
        cx = label_w + cell * j + cell / 2
        els.append(Element("text", {"x": _f(cx), "y": _f(top - 6), "font-size": "11", "fill": "#1f2937",
                                    "transform": f"rotate(-45 {_f(cx)} {_f(top - 6)})", "text-anchor": "start"}, m))
    for i, row_model in enumerate(models):
        y = top + cell * i
        els.append(_text(label_w - 6, y + cell / 2, row_model, anchor="end", size=11))
        for j, col_model in enumerate(models):
            x = label_w + cell * j
            v = float(values[i][j]) if values[i][j] is not None else float("nan")
            if i == j or not math.isfinite(v):
                els.append(_rect(x, y, cell - 2, cell - 2, "#f3f4f6"))
                continue
            n = f", {int(counts[i][j])} battles" if counts is not None else ""
            els.append(_rect(x, y, cell - 2, cell - 2, _heat_color(v), title=f"{row_model} vs {col_model}: {v:.2f}{n}"))
            els.append(_text(x + (cell - 2) / 2, y + (cell - 2) / 2, f"{v:.2f}", anchor="middle", size=11))
    # Legend: the colour scale from 0 to 1.
    ly = top + cell * k + 18
    for s in range(11):
        els.append(_rect(label_w + s * 16, ly, 16, 10, _heat_color(s / 10)))
    els.append(_text(label_w, ly + 22, "0 (row loses all)", size=10, fill="#4b5563"))
    els.append(_text(label_w + 176, ly + 22, "1 (row wins all)", size=10, fill="#4b5563", anchor="end"))
    return Chart(key, title, max(width, int(label_w + 200)), height, els, caption, kind="heatmap")


def line_chart(key: str, title: str, series: list[tuple[str, list[tuple[float, float, float, float]]]], *,
               x_label: str, y_label: str, caption: str = "", point_words: tuple[str, str] = ("requested", "measured"),
               y_reference: float | None = None) -> Chart:
    """Lines with points and vertical interval bars: series = (name, [(x, y, y_low, y_high), ...]).
    `point_words` name x and y in each point's tooltip; `y_reference` draws a dashed horizontal line."""
    width, height = 720, 380
    left, right, top, bottom = 64, 20 + 170, 34, 52
    xs = [p[0] for _, pts in series for p in pts if math.isfinite(p[0])]
    ys = [v for _, pts in series for p in pts for v in p[1:] if v is not None and math.isfinite(v)]
    xt = nice_ticks(min(xs, default=0.0), max(xs, default=1.0))
    yt = nice_ticks(min(ys + [0.0]), max(ys, default=1.0))
    x0, x1, y0, y1 = left, width - right, height - bottom, top

    def sx(v):
        return x0 + (v - xt[0]) / (xt[-1] - xt[0]) * (x1 - x0)

    def sy(v):
        return y0 - (v - yt[0]) / (yt[-1] - yt[0]) * (y0 - y1)

    els: list[Element] = [_text(x0, 14, title, weight="600", size=13)]
    for t in yt:
        els.append(_line(x0, sy(t), x1, sy(t), stroke="#e5e7eb"))
        els.append(_text(x0 - 6, sy(t), f"{t:g}", anchor="end", size=11, fill="#4b5563"))
    for t in xt:
        els.append(_line(sx(t), y0, sx(t), y0 + 4, stroke="#6b7280"))
        els.append(_text(sx(t), y0 + 16, f"{t:g}", anchor="middle", size=11, fill="#4b5563"))
    els.append(_line(x0, y0, x1, y0, stroke="#6b7280"))
    els.append(_line(x0, y0, x0, y1, stroke="#6b7280"))
    if y_reference is not None and yt[0] <= y_reference <= yt[-1]:
        els.append(_line(x0, sy(y_reference), x1, sy(y_reference), stroke="#6b7280", dash="4 3"))
    els.append(_text((x0 + x1) / 2, height - 12, x_label, anchor="middle", size=11, fill="#374151"))
    els.append(Element("text", {"x": "14", "y": _f((y0 + y1) / 2), "font-size": "11", "fill": "#374151",
                                "text-anchor": "middle", "transform": f"rotate(-90 14 {_f((y0 + y1) / 2)})"}, y_label))
    for i, (name, pts) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        pts = [p for p in pts if math.isfinite(p[0]) and p[1] is not None and math.isfinite(p[1])]
        if len(pts) > 1:
            d = " ".join(f"{'M' if k == 0 else 'L'}{_f(sx(x))},{_f(sy(y))}" for k, (x, y, _, _) in enumerate(pts))
            els.append(Element("path", {"d": d, "fill": "none", "stroke": color, "stroke-width": "2"}))
        for x, y, lo, hi in pts:
            if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
                els.append(_line(sx(x), sy(lo), sx(x), sy(hi), stroke=color, width=1.5))
            els.append(Element("circle", {"cx": _f(sx(x)), "cy": _f(sy(y)), "r": "4", "fill": color},
                               title=f"{name}: {point_words[0]} {x:g}, {point_words[1]} {y:.3f}", ref=(name, x)))
        ly = top + 8 + 20 * i
        els.append(_rect(x1 + 16, ly - 5, 14, 10, color))
        els.append(_text(x1 + 36, ly, name[:26], size=11))
    return Chart(key, title, width, height, els, caption, kind="line")
