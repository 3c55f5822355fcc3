"""Small dependency-free SVG charts for the demo report (line, bar and log-axis histogram).

matplotlib is an optional extra; the report must render from a bare install,
so it draws its own SVG: axes with "nice" ticks, labelled series, a legend.
"""

from __future__ import annotations

import html
import math
from typing import List, Optional, Sequence, Tuple

__all__ = ["line_chart", "bar_chart", "log_histogram_chart"]

W, H = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 48, 48
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"]


def _nice_ticks(lo: float, hi: float, n: int = 5) -> List[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=10 * mag)
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step  # the last tick covers the data
    count = int(round((stop - start) / step))
    return [round(start + i * step, 12) for i in range(count + 1)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-2:
        return f"{v:.2g}"
    return f"{v:.4g}"


class _Frame:
    def __init__(self, title: str, xlabel: str, ylabel: str, xr: Tuple[float, float], yr: Tuple[float, float],
                 numeric_x: bool = True):
        self.xt = _nice_ticks(*xr)
        self.yt = _nice_ticks(*yr)
        self.x0, self.x1 = self.xt[0], self.xt[-1]
        self.y0, self.y1 = self.yt[0], self.yt[-1]
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            'font-family="sans-serif" font-size="11">',
            f'<rect width="{W}" height="{H}" fill="white"/>',
            f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{html.escape(title)}</text>',
            f'<text x="{LEFT + (W - LEFT - RIGHT) / 2}" y="{H - 8}" text-anchor="middle">{html.escape(xlabel)}</text>',
            f'<text x="14" y="{TOP + (H - TOP - BOTTOM) / 2}" text-anchor="middle" '
            f'transform="rotate(-90 14 {TOP + (H - TOP - BOTTOM) / 2})">{html.escape(ylabel)}</text>',
        ]
        for t in self.yt:
            y = self.py(t)
            self.parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#e5e5e5"/>')
            self.parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
        for t in self.xt if numeric_x else []:
            x = self.px(t)
            self.parts.append(f'<line x1="{x:.1f}" y1="{H - BOTTOM}" x2="{x:.1f}" y2="{H - BOTTOM + 4}" stroke="black"/>')
            self.parts.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{_fmt(t)}</text>')
        self.parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" '
                          'fill="none" stroke="black"/>')

    def px(self, x: float) -> float:
        return LEFT + (x - self.x0) / ((self.x1 - self.x0) or 1) * (W - LEFT - RIGHT)

    def py(self, y: float) -> float:
        return H - BOTTOM - (y - self.y0) / ((self.y1 - self.y0) or 1) * (H - TOP - BOTTOM)

    def legend(self, names: Sequence[str]) -> None:
        """One row under the title, outside the plot area."""
        x, y = LEFT, TOP - 10
        for i, name in enumerate(names):
            self.parts.append(f'<rect x="{x}" y="{y - 8}" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>')
            self.parts.append(f'<text x="{x + 14}" y="{y + 1}">{html.escape(name)}</text>')
            x += 14 + 7 * len(name) + 24

    def svg(self) -> str:
        return "\n".join(self.parts + ["</svg>"])


def _range(values: Sequence[float]) -> Tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    return min(finite), max(finite)


def line_chart(title: str, xlabel: str, ylabel: str, series: Sequence[Tuple[str, Sequence[float], Sequence[float]]],
               y_range: Optional[Tuple[float, float]] = None) -> str:
    """series: (name, xs, ys) triples."""
    xs = [x for _, sx, _ in series for x in sx]
    ys = [y for _, _, sy in series for y in sy]
    f = _Frame(title, xlabel, ylabel, _range(xs), y_range or _range(ys))
    for i, (_, sx, sy) in enumerate(series):
        pts = " ".join(f"{f.px(x):.1f},{f.py(y):.1f}" for x, y in zip(sx, sy) if math.isfinite(y))
        if pts:
            f.parts.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS[i % len(COLORS)]}" stroke-width="1.5"/>')
    if len(series) > 1:
        f.legend([name for name, _, _ in series])
    return f.svg()


def bar_chart(title: str, xlabel: str, ylabel: str, labels: Sequence[str],
              groups: Sequence[Tuple[str, Sequence[float]]]) -> str:
    """Grouped bars: one group per label, one bar per (name, values) entry."""
    ys = [v for _, vals in groups for v in vals] + [0.0]
    f = _Frame(title, xlabel, ylabel, (0, 1), _range(ys), numeric_x=False)
    n, k = len(labels), max(1, len(groups))
    slot = (W - LEFT - RIGHT) / max(1, n)
    bw = slot * 0.8 / k
    for j, label in enumerate(labels):
        x_slot = LEFT + j * slot
        for i, (_, vals) in enumerate(groups):
            v = vals[j]
            y, y0 = f.py(v), f.py(max(0.0, f.y0))
            f.parts.append(f'<rect x="{x_slot + slot * 0.1 + i * bw:.1f}" y="{min(y, y0):.1f}" width="{bw:.1f}" '
                           f'height="{abs(y0 - y):.1f}" fill="{COLORS[i % len(COLORS)]}"/>')
        f.parts.append(f'<text x="{x_slot + slot / 2:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">'
                       f'{html.escape(label)}</text>')
    if len(groups) > 1:
        f.legend([name for name, _ in groups])
    return f.svg()


def _log_counts(logs: Sequence[float], lo_e: int, hi_e: int, bins: int) -> List[int]:
    width = (hi_e - lo_e) / bins
    counts = [0] * bins
    for v in logs:
        counts[max(0, min(bins - 1, int((v - lo_e) / width)))] += 1
    return counts


def log_histogram_chart(title: str, xlabel: str, values: Sequence[float], marks: Sequence[Tuple[str, float]] = (),
                        bins: int = 40, log_count: bool = True, unit: str = "") -> str:
    """Histogram on a log10 x axis from the decade below the smallest positive value to the
    decade above the largest, with a dashed vertical line and label per ``marks`` entry
    ((name, value), e.g. P50 and P99; labelled "name value unit" above the plot). Latencies have a narrow body and a tail orders of
    magnitude longer: on a linear axis the body, where P50 and P99 sit, is one bar wide.
    Values at or below zero are counted in the first bin."""
    finite = [v for v in values if math.isfinite(v)]
    positive = [v for v in finite if v > 0] + [v for _, v in marks if math.isfinite(v) and v > 0]
    lo_e = math.floor(math.log10(min(positive))) if positive else 0
    hi_e = math.ceil(math.log10(max(positive))) if positive else 1
    hi_e = max(hi_e, lo_e + 1)
    logs = [math.log10(v) if v > 0 else lo_e for v in finite]
    counts = _log_counts(logs, lo_e, hi_e, bins)
    shown = [math.log10(c + 1) if log_count else float(c) for c in counts]
    f = _Frame(title, xlabel + " (log scale)", "log10(count + 1)" if log_count else "count", (lo_e, hi_e),
               (0.0, max(shown + [1.0])), numeric_x=False)
    f.x0, f.x1 = lo_e, hi_e
    width = (hi_e - lo_e) / bins
    for i, c in enumerate(shown):
        x0, x1 = f.px(lo_e + i * width), f.px(lo_e + (i + 1) * width)
        y = f.py(c)
        f.parts.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(0.5, x1 - x0 - 0.5):.1f}" '
                       f'height="{f.py(0) - y:.1f}" fill="{COLORS[0]}"/>')
    _log_x_ticks(f, lo_e, hi_e)
    _vertical_marks(f, [(name, math.log10(v), f"{name} {_fmt(v)}{unit}") for name, v in marks
                        if math.isfinite(v) and v > 0])
    return f.svg()


def _vertical_marks(f: _Frame, marks: Sequence[Tuple[str, float, str]]) -> None:
    """Dashed lines at increasing x positions, labelled just above the plot area: the first
    label ends at its line, the second starts at its line, and so on, so that the labels of
    two close lines (P50 and P99 of a tight distribution) do not overlap."""
    for i, (_, xv, label) in enumerate(marks):
        x = f.px(xv)
        color = COLORS[(i + 1) % len(COLORS)]
        anchor, dx = ("end", -3) if i % 2 == 0 else ("start", 3)
        if anchor == "start" and x + 3 + 7 * len(label) > W:  # would run off the right edge
            anchor, dx = "end", -3
        f.parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{H - BOTTOM}" stroke="{color}" '
                       'stroke-width="1.5" stroke-dasharray="5,3"/>')
        f.parts.append(f'<text x="{x + dx:.1f}" y="{TOP - 6}" text-anchor="{anchor}" fill="{color}">'
                       f'{html.escape(label)}</text>')


def _log_x_ticks(f: _Frame, lo_e: int, hi_e: int) -> None:
    """Labelled ticks at the powers of ten, short unlabelled ones at 2..9 times them."""
    for e in range(lo_e, hi_e + 1):
        for m in range(1, 10) if e < hi_e else (1,):
            x = f.px(e + math.log10(m))
            tick = 5 if m == 1 else 3
            f.parts.append(f'<line x1="{x:.1f}" y1="{H - BOTTOM}" x2="{x:.1f}" y2="{H - BOTTOM + tick}" '
                           'stroke="black"/>')
            if m == 1:
                f.parts.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{_fmt(10.0 ** e)}</text>')
