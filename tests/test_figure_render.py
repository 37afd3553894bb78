"""Exported SVG checked with independent renderers (cairosvg; ImageMagick where installed),
and PDF checked for vector content."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from circuitdesk.graph.document import ViewState
from circuitdesk.graph.figure import FigureOptions, build_figure
from circuitdesk.graph.figure.style import Figure, text_width
from circuitdesk.graph.figure.svg_writer import figure_to_svg
from circuitdesk.graph.model import Graph, GraphMetadata, NodeKind, make_node_table


def _graph() -> Graph:
    """e -> f -> L with a strong edge each, plus a weak e -> L; big glyphs, three labels."""
    rows = [{"id": "e", "kind": NodeKind.EMBEDDING, "layer": -1, "position": 0},
            {"id": "f", "kind": NodeKind.FEATURE, "layer": 0, "position": 0,
             "label": "capital cities"},
            {"id": "L", "kind": NodeKind.LOGIT, "layer": 1, "position": 1,
             "label": 'Output " Paris" (p=0.900)', "token_prob": 0.9}]
    return Graph(nodes=make_node_table(rows), source=np.array([0, 1, 0]),
                 target=np.array([1, 2, 2]), weight=np.array([2.0, 3.0, 0.1], dtype=np.float32),
                 metadata=GraphMetadata(prompt_tokens=["France", " is"]))


def _figure() -> Figure:
    return build_figure(_graph(), state=ViewState(pinned=frozenset({"f"})),
                        options=FigureOptions(width=480, height=320))


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])


def _assert_drawn(fig: Figure, png: Path) -> None:
    """Nodes have their fill at the centre, the strong edges their colour at the
    midpoint, and every label has ink in its box."""
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB"), dtype=np.int64)

    def at(x: float, y: float) -> np.ndarray:
        return img[round(y), round(x)]

    for g in fig.nodes:
        assert np.abs(at(g.x, g.y) - _rgb(g.fill)).max() <= 40, (g.node_id, at(g.x, g.y))
    strong = max(fig.edges, key=lambda b: b.width)
    for x0, y0, x1, y1 in strong.segments:
        assert np.abs(at((x0 + x1) / 2, (y0 + y1) / 2) - _rgb(strong.color)).max() <= 60
    labels = [t for t in fig.texts if t.role == "label"]
    assert {t.text for t in labels} == {"capital cities", '" Paris" (p=0.900)'}
    for t in labels:
        tw = text_width(t.text, t.size)
        x0 = t.x - {"start": 0.0, "middle": tw / 2, "end": tw}[t.anchor]
        box = img[round(t.y - t.size):round(t.y + 2), round(x0):round(x0 + tw)]
        ink = (np.abs(box - _rgb(t.color)).max(axis=2) <= 90).sum()
        assert ink >= 20, (t.text, ink)
    for ln in fig.leaders:  # the leader's middle is drawn
        mid = at((ln.x0 + ln.x1) / 2, (ln.y0 + ln.y1) / 2)
        assert np.abs(mid - _rgb(fig.background or "#ffffff")).max() > 30


def test_cairosvg_draws_nodes_edges_and_labels(tmp_path: Path) -> None:
    cairosvg = pytest.importorskip("cairosvg")
    pytest.importorskip("PIL")
    fig = _figure()
    png = tmp_path / "cairo.png"
    cairosvg.svg2png(bytestring=figure_to_svg(fig).encode(), write_to=str(png))
    _assert_drawn(fig, png)


def test_text_groups_say_no_stroke() -> None:
    """ImageMagick outlines text in black unless a stroke of none is inherited."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(figure_to_svg(_figure()))
    groups = {g.get("id"): g for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert groups["text"].get("stroke") == groups["legend"].get("stroke") == "none"


def _is_imagemagick(exe: str) -> bool:
    """A `convert` on PATH may be a stand-in (or GraphicsMagick) that cannot read SVG."""
    try:
        out = subprocess.run([exe, "-version"], check=False, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "ImageMagick" in out.stdout


def test_imagemagick_draws_nodes_edges_and_labels(tmp_path: Path) -> None:
    exe = shutil.which("convert")
    if exe is None or not _is_imagemagick(exe):
        pytest.skip("ImageMagick's convert is not installed")
    pytest.importorskip("PIL")
    fig = _figure()
    svg, png = tmp_path / "f.svg", tmp_path / "im.png"
    svg.write_text(figure_to_svg(fig), encoding="utf-8")
    subprocess.run([exe, str(svg), str(png)], check=True, timeout=120, capture_output=True)
    _assert_drawn(fig, png)


def _pdf_content(pdf: bytes) -> bytes:
    """Every stream of the PDF, inflated where it is Flate-compressed."""
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(m.group(1)))
        except zlib.error:
            out.append(m.group(1))
    return b"\n".join(out)


@pytest.mark.gui
def test_pdf_is_vector(qapp: object, tmp_path: Path) -> None:
    from circuitdesk.app.figure_png import write_pdf

    fig = _figure()
    pdf = tmp_path / "f.pdf"
    write_pdf(fig, pdf)
    raw = pdf.read_bytes()
    assert raw[:5] == b"%PDF-" and b"/Subtype /Image" not in raw
    content = _pdf_content(raw)
    # Lines are path operators (m ... l ... S), text is text (BT ... ET), fonts embedded.
    assert len(re.findall(rb"\sl\s", content)) >= fig.n_edges
    assert content.count(b"BT") >= len(fig.texts) // 2 and b"/FontFile2" in raw
