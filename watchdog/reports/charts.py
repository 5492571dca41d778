"""SVG charts of one check after a deploy, written as plain strings: no plotting library, no fonts to ship.

Readable without colour: failing samples are crosses, the limit is dashed, the decision dash-dotted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from xml.sax.saxutils import escape

from watchdog.reports.model import CheckEvidence, fmt

WIDTH, HEIGHT = 760, 360
LEFT, RIGHT, TOP, BOTTOM = 72, 160, 66, 52
_UNIT_LABEL = {"percent": "error rate (%)", "seconds": "latency", "number": "value", "up": "probe"}
_STYLE = """
  .title { font: bold 15px sans-serif; }
  text { font: 11px sans-serif; fill: #222; }
  .axis line, .axis path { stroke: #444; }
  .axis .grid { stroke: #e4e4e4; }
  .series { fill: none; stroke: #1f5fa8; stroke-width: 1.5; }
  .threshold { stroke: #b00020; stroke-width: 1.5; stroke-dasharray: 6 4; }
  .baseline { fill: #2e7d32; fill-opacity: 0.15; stroke: #2e7d32; stroke-opacity: 0.4; }
  .marker { stroke: #333; stroke-width: 1.2; }
  #decision-marker line { stroke-dasharray: 8 3 2 3; }
  .pass { fill: #1f5fa8; }
  .fail { stroke: #b00020; stroke-width: 2.2; fill: none; }
  .inconclusive { fill: #fff; stroke: #8a6d00; stroke-width: 1.5; }
  .warmup { fill: #fff; stroke: #888; stroke-width: 1.2; }
  .restored { fill: none; stroke: #2e7d32; stroke-width: 1.5; stroke-dasharray: 4 2; }
  #restored .pass { fill: #2e7d32; }
  #rollback-marker line { stroke: #2e7d32; stroke-dasharray: 2 2; }
"""


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(ticks, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def _ticks(lo: float, hi: float) -> list[float]:
    step = _nice_step(hi - lo)
    start = math.floor(lo / step) * step
    out, v = [], start
    while v <= hi + step * 1e-9:
        if v >= lo - step * 1e-9:
            out.append(round(v, 12))
        v += step
    return out


def _tick_label(value: float, unit: str) -> str:
    if unit == "percent":
        return f"{value * 100:g}%"
    if unit == "seconds":
        return f"{value * 1000:g} ms" if value < 1 else f"{value:g} s"
    if unit == "up":
        return {0.0: "down", 1.0: "up"}.get(value, "")
    return f"{value:g}"


def _shape(kind: str, x: float, y: float, tip: str = "") -> str:
    """Each outcome has its own shape, so the chart survives greyscale printing and colour blindness."""
    inner = f"<title>{escape(tip)}</title>" if tip else ""
    if kind == "fail":
        a, b, c, e = x - 5, x + 5, y - 5, y + 5
        d = f"M{a:.1f},{c:.1f} L{b:.1f},{e:.1f} M{a:.1f},{e:.1f} L{b:.1f},{c:.1f}"
        return f'<path class="sample fail" d="{d}">{inner}</path>'
    if kind == "inconclusive":
        box = f'x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8"'
        return f'<rect class="sample inconclusive" {box}>{inner}</rect>'
    cls = "warmup" if kind == "warmup" else "pass"
    return f'<circle class="sample {cls}" cx="{x:.1f}" cy="{y:.1f}" r="3.5">{inner}</circle>'


def render_chart(ev: CheckEvidence, *, title: str) -> str:
    """The check's series over seconds after the deploy, with limit, baseline band and both markers."""
    unit = ev.unit
    ts = [p.t for p in (*ev.points, *ev.restored)] + [0.0]
    ts += [at for at in (ev.decided_after_s, ev.rollback_at) if at is not None]
    x_lo, x_hi = min(ts), max(ts)
    if x_hi - x_lo <= 0:
        x_hi = x_lo + 60.0
    x_hi += (x_hi - x_lo) * 0.04  # room for the last sample's marker inside the frame
    if unit == "up":
        y_lo, y_hi = 0.0, 1.0
    else:
        ys = [p.value for p in (*ev.points, *ev.restored) if p.value is not None]
        ys += [v for v in (ev.limit, ev.limit_min, ev.baseline_value) if v is not None]
        ys += list(ev.band or ())
        y_lo = min([0.0, *ys])
        top = max([*ys, 0.0])
        y_hi = top * 1.15 if top > 0 else 1.0
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - x_lo) / (x_hi - x_lo) * pw

    def y(v: float) -> float:
        return TOP + ph - (v - y_lo) / (y_hi - y_lo) * ph

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
        f"<style>{_STYLE}</style>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<text class="title" x="{LEFT}" y="24">{escape(title)}</text>',
    ]
    if ev.band is not None and unit != "up":
        lo, hi = ev.band
        top_px, bottom_px = y(hi), y(lo)
        out.append(
            f'<g id="baseline"><rect class="baseline" x="{LEFT}" y="{top_px:.1f}" width="{pw}" '
            f'height="{max(bottom_px - top_px, 2.0):.1f}"/>'
            f'<text id="baseline-label" x="{LEFT + pw + 6}" y="{(top_px + bottom_px) / 2 + 4:.1f}">'
            f"baseline {escape(fmt(lo, unit))}–{escape(fmt(hi, unit))}</text></g>"
        )
    # Axes, grid and ticks with units.
    out.append('<g class="axis" id="y-axis">')
    for v in [0.0, 1.0] if unit == "up" else _ticks(y_lo, y_hi):
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
            f'<line x1="{LEFT - 5}" x2="{LEFT}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
            f'<text x="{LEFT - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{escape(_tick_label(v, unit))}</text>'
        )
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + ph}"/>'
        f'<text x="16" y="{TOP + ph / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + ph / 2:.1f})">{_UNIT_LABEL[unit]}</text></g>'
    )
    out.append('<g class="axis" id="x-axis">')
    for t in _ticks(x_lo, x_hi):
        out.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP + ph}" y2="{TOP + ph + 5}"/>'
            f'<text x="{x(t):.1f}" y="{TOP + ph + 18}" text-anchor="middle">{t:g}</text>'
        )
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{TOP + ph}" y2="{TOP + ph}"/>'
        f'<text x="{LEFT + pw / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
        "seconds after deploy</text></g>"
    )
    for ident, value in (("threshold", ev.limit), ("threshold-min", ev.limit_min)):
        if value is not None and unit != "up":
            word = "limit" if ident == "threshold" else "minimum"
            out.append(
                f'<g id="{ident}"><line class="threshold" x1="{LEFT}" x2="{LEFT + pw}" '
                f'y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
                f'<text id="{ident}-label" x="{LEFT + pw + 6}" y="{y(value) + 4:.1f}">'
                f"{word} {escape(fmt(value, unit))}</text></g>"
            )
    markers = [("deploy-marker", 0.0, "deploy"), ("decision-marker", ev.decided_after_s, "decision")]
    if ev.restored or ev.rollback_at is not None:
        markers.append(("rollback-marker", ev.rollback_at, "rollback"))
    for ident, at, label in markers:
        if at is not None:
            # The rollback follows the decision within seconds: its label sits inside the plot, not on top.
            ty = TOP + 12 if ident == "rollback-marker" else TOP - 4
            out.append(
                f'<g id="{ident}"><line class="marker" x1="{x(at):.1f}" x2="{x(at):.1f}" '
                f'y1="{TOP}" y2="{TOP + ph}"/><text x="{x(at) + 3:.1f}" y="{ty}">{label}</text></g>'
            )
    # The series, broken where a sample had no data.
    segments: list[list[str]] = [[]]
    for p in ev.points:
        if p.value is None:
            segments.append([])
        else:
            segments[-1].append(f"{x(p.t):.1f},{y(p.value):.1f}")
    out.append('<g id="series">')
    out += [f'<polyline class="series" points="{" ".join(s)}"/>' for s in segments if len(s) > 1]
    for p in ev.points:
        kind = "warmup" if p.warmup else p.outcome
        value = p.value if p.value is not None else y_lo
        shown = fmt(p.value, unit) if p.value is not None else "no data"
        out.append(_shape(kind, x(p.t), y(value), f"+{p.t:g} s: {shown} ({kind})"))
    out.append("</g>")
    if ev.restored:
        out.append(_restored(ev, x, y, y_lo))
    out.append(_legend(LEFT, 44, restored=bool(ev.restored)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _restored(
    ev: CheckEvidence, x: Callable[[float], float], y: Callable[[float], float], y_lo: float
) -> str:
    """The restored version's samples after the rollback: a dashed green line, the same outcome shapes."""
    unit = ev.unit
    pts = [f"{x(p.t):.1f},{y(p.value):.1f}" for p in ev.restored if p.value is not None]
    out = ['<g id="restored">']
    if len(pts) > 1:
        out.append(f'<polyline class="restored" points="{" ".join(pts)}"/>')
    for p in ev.restored:
        kind = "warmup" if p.warmup else p.outcome
        shown = fmt(p.value, unit) if p.value is not None else "no data"
        value = p.value if p.value is not None else y_lo
        out.append(_shape(kind, x(p.t), y(value), f"restored version +{p.t:g} s: {shown} ({kind})"))
    out.append("</g>")
    return "".join(out)


def _legend(x0: float, y0: float, *, restored: bool = False) -> str:
    """One row under the title, so it never covers the labels of the limit and baseline at the right."""
    rows = [
        ("pass", "pass"),
        ("fail", "fail"),
        ("inconclusive", "no data / inconclusive"),
        ("warmup", "warm-up"),
    ]
    items = []
    cx = x0 + 6
    for kind, label in rows:
        items.append(_shape(kind, cx, y0) + f'<text x="{cx + 10:.1f}" y="{y0 + 4:.1f}">{label}</text>')
        cx += 40 + 6.5 * len(label)  # about the width of an 11 px sans-serif label
    if restored:
        items.append(
            f'<line class="restored" x1="{cx - 6:.1f}" x2="{cx + 6:.1f}" y1="{y0:.1f}" y2="{y0:.1f}"/>'
            f'<text x="{cx + 10:.1f}" y="{y0 + 4:.1f}">restored version</text>'
        )
    return '<g id="legend">' + "".join(items) + "</g>"
