"""The predicted-vs-observed scatter as a standalone SVG (no Qt), for papers."""

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
