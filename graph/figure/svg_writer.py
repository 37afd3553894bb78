"""Write a :class:`~.style.Figure` as SVG (pure Python, no Qt).

Written for every renderer, not only browsers:

- Edges go out as one short ``<line>`` per edge inside one ``<g>`` per style bucket
  that carries the stroke. cairo (inside librsvg, GNOME's viewers and Inkscape)
  needed minutes for one ``<path>`` of thousands of subpaths sharing endpoints and
  draws plain lines about as fast as it can draw anything.
- No ``clip-path``, ``rotate(a x y)``, CSS or ``<use>``: ImageMagick's own SVG
  renderer drew nothing inside a clipped group and no text rotated about a point.
  Edges are clipped to the plot in numpy instead, and rotated text is written as
  ``translate(x y) rotate(a)``.
- Text stays ``<text>`` (its content in a ``<tspan>``: ImageMagick drops a leading
  quote otherwise), in a font stack that falls back to what each system has.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from ..cancel import NEVER, CancelToken, Progress, no_progress
from .style import EdgeBucket, Figure, LineItem, NodeGlyph, RectItem, TextItem

_BAD_XML_CHARS = {c: None for c in range(32) if c not in (9, 10, 13)}


def _n(v: float) -> str:
    """A coordinate rounded to 0.1 px without a trailing '.0'."""
    s = f"{v:.1f}"
    s = s.removesuffix(".0")
    return "0" if s == "-0" else s


def _attr(value: str) -> str:
    return quoteattr(value.translate(_BAD_XML_CHARS))


def _text(value: str) -> str:
    return escape(value.translate(_BAD_XML_CHARS), {'"': "&quot;", "'": "&apos;"})


def _rect(r: RectItem) -> str:
    parts = [f'<rect x="{_n(r.x)}" y="{_n(r.y)}" width="{_n(r.w)}" height="{_n(r.h)}"']
    if r.radius:
        parts.append(f' rx="{_n(r.radius)}"')
    parts.append(f' fill="{r.fill}"' if r.fill else ' fill="none"')
    if r.stroke:
        parts.append(f' stroke="{r.stroke}" stroke-width="{_n(r.stroke_width)}"')
    else:
        parts.append(' stroke="none"')  # ImageMagick outlines a rect with no stroke attribute
    return "".join(parts) + "/>"


def _line(ln: LineItem) -> str:
    return (f'<line x1="{_n(ln.x0)}" y1="{_n(ln.y0)}" x2="{_n(ln.x1)}" y2="{_n(ln.y1)}" '
            f'stroke="{ln.color}" stroke-width="{ln.width:g}"/>')


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
    where = f'x="{_n(t.x)}" y="{_n(t.y)}"'
    if t.rotate:
        where = f'x="0" y="0" transform="translate({_n(t.x)} {_n(t.y)}) rotate({t.rotate:g})"'
    attrs = f'{where} font-size="{t.size:.3g}" fill="{t.color}" text-anchor="{t.anchor}"'
    if t.bold:
        attrs += ' font-weight="bold"'
    # The <tspan> is for ImageMagick, which drops a quote that starts a text's content.
    return f'<text {attrs} class={_attr(t.role)}><tspan>{_text(t.text)}</tspan></text>'


def edge_lines(segments: np.ndarray) -> list[str]:
    """One ``<line>`` per row of a ``[k, 4]`` array, coordinates to 0.1 px."""
    if not segments.size:
        return []
    flat = np.round(np.asarray(segments, dtype=np.float64), 1).tolist()
    return [f'<line x1="{_n(a)}" y1="{_n(b)}" x2="{_n(c)}" y2="{_n(d)}"/>' for a, b, c, d in flat]


def _bucket(b: EdgeBucket) -> list[str]:
    out = [f'<g stroke="{b.color}" stroke-width="{b.width:.2f}" fill="none">']
    out += edge_lines(b.segments)
    out.append("</g>")
    if b.arrows.size:
        out.append(f'<g fill="{b.color}" stroke="none">')
        for row in np.round(b.arrows, 1).tolist():
            out.append(f'<path d="M{_n(row[0])} {_n(row[1])}L{_n(row[2])} {_n(row[3])}'
                       f'L{_n(row[4])} {_n(row[5])}Z"/>')
        out.append("</g>")
    return out


def figure_to_svg(fig: Figure, *, progress: Progress = no_progress,
                  cancel: CancelToken = NEVER) -> str:
    """The figure as a standalone SVG document string.

    Edges are most of the work: ``cancel`` is checked and ``progress`` reported
    (from 0.1 to 0.9, after the figure was built) between edge buckets.
    """
    fonts = _attr(", ".join(fig.font_families))
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        (f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_n(fig.width)}" '
         f'height="{_n(fig.height)}" viewBox="0 0 {_n(fig.width)} {_n(fig.height)}" '
         f'font-family={fonts}>'),
    ]
    if fig.background:
        out.append(f'<rect x="0" y="0" width="{_n(fig.width)}" height="{_n(fig.height)}" '
                   f'fill="{fig.background}" stroke="none"/>')
    out.append('<g id="axes">')
    out += [_rect(r) for r in fig.rects]
    out += [_line(ln) for ln in fig.lines]
    out.append('</g>\n<g id="edges">')
    total, done = max(fig.n_edges, 1), 0
    for b in fig.edges:
        cancel.check()
        out += _bucket(b)
        done += b.segments.shape[0]
        progress(0.1 + 0.8 * done / total, "writing edges")
    out.append('</g>\n<g id="nodes">')
    out += [_glyph(g) for g in fig.nodes]
    # stroke="none": ImageMagick outlines text in black unless told otherwise.
    out.append(f'</g>\n<g id="text" font-family={fonts} stroke="none">')
    out += [_line(ln) for ln in fig.leaders]
    out += [_rect(r) for r in fig.label_boxes]
    out += [_text_item(t) for t in fig.texts]
    out.append("</g>")
    if fig.legend is not None:
        out.append(f'<g id="legend" font-family={fonts} stroke="none">')
        out += [_rect(r) for r in fig.legend.rects]
        out += [_glyph(g) for g in fig.legend.glyphs]
        out += [_text_item(t) for t in fig.legend.texts]
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out)


def write_svg(fig: Figure, path: str | Path, *, progress: Progress = no_progress,
              cancel: CancelToken = NEVER) -> None:
    """Write the SVG atomically (temp file + rename); nothing is left when cancelled."""
    target = Path(path)
    text = figure_to_svg(fig, progress=progress, cancel=cancel)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
