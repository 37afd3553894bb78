"""Verification plots as standalone SVG (no Qt), for papers: the predicted-vs-observed
scatter and line plots such as the faithfulness curve."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np

VERDICT_COLORS = {
    "confirmed": "#2e7d32", "weaker than predicted": "#f9a825", "contradicted": "#c62828",
    "no effect predicted": "#9e9e9e", "unpredicted effect": "#6a1b9a", "no prediction": "#bdbdbd",
}
FONT = "Helvetica, Arial, 'DejaVu Sans', sans-serif"


def scatter_svg(predicted: Sequence[float], observed: Sequence[float], verdicts: Sequence[str],
                title: str = "", size: int = 480) -> str:
    """A square scatter with the y = x diagonal, axis labels and one dot per claim."""
    p = np.asarray(predicted, dtype=float)
    o = np.asarray(observed, dtype=float)
    ok = np.isfinite(p) & np.isfinite(o)
    lim = float(max(np.abs(p[ok]).max(initial=0), np.abs(o[ok]).max(initial=0), 1e-9)) * 1.1
    m = 56  # margin for the axis labels

    def sx(v: float) -> float:
        return m + (v + lim) / (2 * lim) * (size - 2 * m)

    def sy(v: float) -> float:
        return size - m - (v + lim) / (2 * lim) * (size - 2 * m)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" font-family="{FONT}">',
        f'<rect width="{size}" height="{size}" fill="#ffffff"/>',
        f'<rect x="{m}" y="{m}" width="{size - 2 * m}" height="{size - 2 * m}" fill="none" '
        'stroke="#888888"/>',
        f'<line x1="{sx(-lim):.1f}" y1="{sy(-lim):.1f}" x2="{sx(lim):.1f}" y2="{sy(lim):.1f}" '
        'stroke="#aaaaaa" stroke-dasharray="4 3"/>',
        f'<line x1="{sx(0):.1f}" y1="{m}" x2="{sx(0):.1f}" y2="{size - m}" stroke="#dddddd"/>',
        f'<line x1="{m}" y1="{sy(0):.1f}" x2="{size - m}" y2="{sy(0):.1f}" stroke="#dddddd"/>',
        f'<text x="{size / 2}" y="{size - 14}" text-anchor="middle" font-size="13">'
        'predicted change of the target logit</text>',
        f'<text x="16" y="{size / 2}" text-anchor="middle" font-size="13" '
        f'transform="rotate(-90 16 {size / 2})">observed change</text>',
        f'<text x="{m}" y="{m - 10}" font-size="12">{escape(f"±{lim:.3g}")}</text>',
    ]
    if title:
        parts.append(f'<text x="{size / 2}" y="22" text-anchor="middle" font-size="14">'
                     f'{escape(title)}</text>')
    for a, b, v in zip(p[ok].tolist(), o[ok].tolist(), np.asarray(verdicts, dtype=object)[ok]):
        color = VERDICT_COLORS.get(str(v), "#333333")
        parts.append(f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="4" fill="{color}" '
                     'fill-opacity="0.8" stroke="#222222" stroke-width="0.5"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def curve_svg(series: Sequence[tuple[str, Sequence[float], Sequence[float], str]],
              x_label: str, y_label: str, title: str = "", width: int = 560,
              height: int = 400) -> str:
    """Lines with dots, one per ``(name, xs, ys, colour)``, with a legend (e.g. the
    faithfulness curve: circuit size against the share of the clean effect)."""
    xs = np.concatenate([np.asarray(s[1], float) for s in series]) if series else np.zeros(0)
    ys = np.concatenate([np.asarray(s[2], float) for s in series]) if series else np.zeros(0)
    ok = np.isfinite(xs) & np.isfinite(ys)
    x0, x1 = (float(xs[ok].min()), float(xs[ok].max())) if ok.any() else (0.0, 1.0)
    y0 = min(0.0, float(ys[ok].min())) if ok.any() else 0.0
    y1 = max(1.0, float(ys[ok].max())) if ok.any() else 1.0
    x1 = x1 if x1 > x0 else x0 + 1.0
    m, top = 60, 40

    def sx(v: float) -> float:
        return m + (v - x0) / (x1 - x0) * (width - m - 150)

    def sy(v: float) -> float:
        return height - m - (v - y0) / (y1 - y0) * (height - m - top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<rect x="{m}" y="{top}" width="{width - m - 150}" height="{height - m - top}" '
        'fill="none" stroke="#888888"/>',
        f'<text x="{m + (width - m - 150) / 2}" y="{height - 16}" text-anchor="middle" '
        f'font-size="13">{escape(x_label)}</text>',
        f'<text x="16" y="{(height - m + top) / 2}" text-anchor="middle" font-size="13" '
        f'transform="rotate(-90 16 {(height - m + top) / 2})">{escape(y_label)}</text>',
    ]
    for v in (y0, 0.0, 1.0, y1) if y0 < 0 or y1 > 1 else (0.0, 0.5, 1.0):
        parts.append(f'<line x1="{m}" y1="{sy(v):.1f}" x2="{width - 150}" y2="{sy(v):.1f}" '
                     f'stroke="#e0e0e0"/><text x="{m - 6}" y="{sy(v) + 4:.1f}" '
                     f'text-anchor="end" font-size="11">{v:.2g}</text>')
    for v in (x0, x1):
        parts.append(f'<text x="{sx(v):.1f}" y="{height - m + 16}" text-anchor="middle" '
                     f'font-size="11">{v:.4g}</text>')
    if title:
        parts.append(f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">'
                     f'{escape(title)}</text>')
    for k, (name, sxs, sys_, color) in enumerate(series):
        pts = [(sx(a), sy(b)) for a, b in zip(sxs, sys_) if np.isfinite(a) and np.isfinite(b)]
        if len(pts) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" '
                         'stroke-width="1.5"/>')
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{color}"/>' for a, b in pts]
        ly = top + 14 + 20 * k
        parts.append(f'<line x1="{width - 140}" y1="{ly}" x2="{width - 120}" y2="{ly}" '
                     f'stroke="{color}" stroke-width="2"/><text x="{width - 114}" y="{ly + 4}" '
                     f'font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
