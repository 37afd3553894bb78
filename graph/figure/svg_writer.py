"""Write a :class:`~.figure_style.Figure` as SVG (pure Python, no Qt).

Edges go out as one ``<path>`` per style bucket ("M x y L x y" pairs rounded to
0.1 px), so 100k edges stay a file of a few MB; text stays text (``<text>``) in a
font stack found everywhere.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from .style import Figure, NodeGlyph, RectItem, TextItem

_BAD_XML_CHARS = {c: None for c in range(32) if c not in (9, 10, 13)}


def _n(v: float) -> str:
    """A coordinate rounded to 0.1 px without a trailing '.0'."""
    s = f"{v:.1f}"
    return s.removesuffix(".0")


def _attr(value: str) -> str:
    return quoteattr(value.translate(_BAD_XML_CHARS))


def _text(value: str) -> str:
    return escape(value.translate(_BAD_XML_CHARS))


def _rect(r: RectItem) -> str:
    parts = [f'<rect x="{_n(r.x)}" y="{_n(r.y)}" width="{_n(r.w)}" height="{_n(r.h)}"']
    if r.radius:
        parts.append(f' rx="{_n(r.radius)}"')
    parts.append(f' fill="{r.fill}"' if r.fill else ' fill="none"')
    if r.stroke:
        parts.append(f' stroke="{r.stroke}" stroke-width="{_n(r.stroke_width)}"')
    return "".join(parts) + "/>"


def _glyph(g: NodeGlyph) -> str:
    paint = f'fill="{g.fill}" stroke="{g.stroke}" stroke-width="{g.stroke_width:g}"'
    hw, hh = g.w / 2, g.h / 2
    if g.shape == "circle":
        return f'<circle cx="{_n(g.x)}" cy="{_n(g.y)}" r="{_n(hw)}" {paint}/>'
    if g.shape == "diamond":
        d = (f"M{_n(g.x)} {_n(g.y - hh)}L{_n(g.x + hw)} {_n(g.y)}L{_n(g.x)} {_n(g.y + hh)}"
             f"L{_n(g.x - hw)} {_n(g.y)}Z")
        return f'<path d="{d}" {paint}/>'
    rx = f' rx="{_n(min(hh, 5.0))}"' if g.shape == "roundrect" else ""
    return (f'<rect x="{_n(g.x - hw)}" y="{_n(g.y - hh)}" width="{_n(g.w)}" height="{_n(g.h)}"'
            f"{rx} {paint}/>")


def _text_item(t: TextItem) -> str:
    attrs = (f'x="{_n(t.x)}" y="{_n(t.y)}" font-size="{t.size:.3g}" fill="{t.color}"'
             f' text-anchor="{t.anchor}"')
    if t.bold:
        attrs += ' font-weight="bold"'
    if t.rotate:
        attrs += f' transform="rotate({t.rotate:g} {_n(t.x)} {_n(t.y)})"'
    return f'<text {attrs} class={_attr(t.role)}>{_text(t.text)}</text>'


def path_data(segments: np.ndarray) -> str:
    """``"M x0 y0L x1 y1"`` for each row of a ``[k, 4]`` array, coordinates to 0.1 px."""
    if not segments.size:
        return ""
    flat = np.round(np.asarray(segments, dtype=np.float64), 1).ravel().tolist()
    return ("M%.1f %.1fL%.1f %.1f" * (len(flat) // 4)) % tuple(flat)


def figure_to_svg(fig: Figure) -> str:
    """The figure as a standalone SVG document string."""
    x, y, w, h = fig.plot_rect
    fonts = ", ".join(f"'{f}'" if " " in f else f for f in fig.font_families)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        (f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_n(fig.width)}" '
         f'height="{_n(fig.height)}" viewBox="0 0 {_n(fig.width)} {_n(fig.height)}" '
         f'font-family={_attr(fonts)}>'),
        (f'<defs><clipPath id="plot"><rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" '
         f'height="{_n(h)}"/></clipPath></defs>'),
    ]
    if fig.background:
        out.append(f'<rect width="100%" height="100%" fill="{fig.background}"/>')
    out.append('<g id="axes">')
    out += [_rect(r) for r in fig.rects]
    out += [f'<line x1="{_n(ln.x0)}" y1="{_n(ln.y0)}" x2="{_n(ln.x1)}" y2="{_n(ln.y1)}" '
            f'stroke="{ln.color}" stroke-width="{ln.width:g}"/>' for ln in fig.lines]
    out.append('</g>\n<g id="edges" clip-path="url(#plot)" fill="none">')
    for b in fig.edges:
        out.append(f'<path stroke="{b.color}" stroke-width="{b.width:.2f}" '
                   f'd="{path_data(b.segments)}"/>')
    out.append('</g>\n<g id="nodes" clip-path="url(#plot)">')
    out += [_glyph(g) for g in fig.nodes]
    out.append('</g>\n<g id="text">')
    out += [_text_item(t) for t in fig.texts]
    out.append("</g>")
    if fig.legend is not None:
        out.append('<g id="legend">')
        out += [_rect(r) for r in fig.legend.rects]
        out += [_glyph(g) for g in fig.legend.glyphs]
        out += [_text_item(t) for t in fig.legend.texts]
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out)


def write_svg(fig: Figure, path: str | Path) -> None:
    """Write the SVG atomically (temp file + rename)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(figure_to_svg(fig), encoding="utf-8")
    tmp.replace(target)
