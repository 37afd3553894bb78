"""Draw a :class:`~circuitdesk.graph.figure.style.Figure` with QPainter: PNG at any DPI, and PDF.

The figure is in px at 96 DPI; a PNG at ``dpi`` is painted with the painter scaled
by ``dpi / 96`` into a ``Format_ARGB32_Premultiplied`` image (STYLE.md §3: the only
format in which 100k segments paint fast). Edges go out as one ``drawLines`` per
style bucket. A PDF is the same painting on a QPdfWriter page of the figure's size,
so text and edges stay vector.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QLineF, QMarginsF, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
    QPolygonF,
)

from ..graph.cancel import NEVER, CancelToken, Progress, no_progress
from ..graph.document import Document
from ..graph.errors import Cancelled, CircuitDeskError
from ..graph.figure import ExportOptions, build_figure
from ..graph.figure.style import Figure, NodeGlyph, RectItem, TextItem
from ..graph.figure.svg_writer import write_svg

BASE_DPI = 96.0


class ExportError(CircuitDeskError):
    """The figure could not be written (bad path, unknown format, Qt refused)."""


def ensure_gui_app() -> QGuiApplication:
    """The running Qt application, or a new offscreen QGuiApplication for headless export."""
    app = QGuiApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication(["circuitdesk-export"])
    return app  # type: ignore[return-value]


def _font(families: Iterable[str], size: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setFamilies(list(families))
    font.setPixelSize(max(1, round(size)))
    font.setBold(bold)
    return font


def _pen(color: str | None, width: float) -> QPen:
    if not color:
        return QPen(Qt.PenStyle.NoPen)
    pen = QPen(QColor(color))
    pen.setWidthF(width)
    # Round caps made 2.8k antialiased edges take 5 s instead of 0.1 s; caps hide under glyphs.
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    return pen


def _brush(color: str | None) -> QBrush:
    return QBrush(QColor(color)) if color else QBrush(Qt.BrushStyle.NoBrush)


def _draw_rect(p: QPainter, r: RectItem) -> None:
    p.setPen(_pen(r.stroke, r.stroke_width))
    p.setBrush(_brush(r.fill))
    if r.radius:
        p.drawRoundedRect(QRectF(r.x, r.y, r.w, r.h), r.radius, r.radius)
    else:
        p.drawRect(QRectF(r.x, r.y, r.w, r.h))


def _draw_glyph(p: QPainter, g: NodeGlyph) -> None:
    p.setPen(_pen(g.stroke, g.stroke_width))
    p.setBrush(_brush(g.fill))
    box = QRectF(g.x - g.w / 2, g.y - g.h / 2, g.w, g.h)
    if g.shape == "circle":
        p.drawEllipse(box)
    elif g.shape == "diamond":
        p.drawPolygon(QPolygonF([QPointF(g.x, box.top()), QPointF(box.right(), g.y),
                                 QPointF(g.x, box.bottom()), QPointF(box.left(), g.y)]))
    elif g.shape == "roundrect":
        radius = min(g.h / 2, 5.0)
        p.drawRoundedRect(box, radius, radius)
    else:
        p.drawRect(box)


def _draw_arrows(p: QPainter, arrows: np.ndarray, color: str) -> None:
    if not arrows.size:
        return
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(QColor(color)))
    for a in arrows.tolist():
        p.drawPolygon(QPolygonF([QPointF(a[0], a[1]), QPointF(a[2], a[3]), QPointF(a[4], a[5])]))


def _draw_text(p: QPainter, t: TextItem, families: tuple[str, ...]) -> None:
    font = _font(families, t.size, t.bold)
    p.setFont(font)
    p.setPen(QColor(t.color))
    advance = QFontMetricsF(font).horizontalAdvance(t.text)
    dx = {"start": 0.0, "middle": -advance / 2, "end": -advance}[t.anchor]
    if t.rotate:
        p.save()
        p.translate(t.x, t.y)
        p.rotate(t.rotate)
        p.drawText(QPointF(dx, 0.0), t.text)
        p.restore()
    else:
        p.drawText(QPointF(t.x + dx, t.y), t.text)


def paint_figure(p: QPainter, fig: Figure, *, progress: Progress = no_progress,
                 cancel: CancelToken = NEVER) -> None:
    """Paint ``fig`` in its own px coordinates (scale the painter beforehand).

    Edges are most of the work: ``cancel`` is checked and ``progress`` reported
    between edge buckets.
    """
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    if fig.background:
        p.fillRect(QRectF(0, 0, fig.width, fig.height), QColor(fig.background))
    for r in fig.rects:
        _draw_rect(p, r)
    for ln in fig.lines:
        p.setPen(_pen(ln.color, ln.width))
        p.drawLine(QLineF(ln.x0, ln.y0, ln.x1, ln.y1))
    p.save()
    try:
        p.setClipRect(QRectF(*fig.plot_rect))
        total, done = max(fig.n_edges, 1), 0
        for b in fig.edges:
            cancel.check()
            p.setPen(_pen(b.color, b.width))
            p.drawLines([QLineF(*row) for row in b.segments.tolist()])
            _draw_arrows(p, b.arrows, b.color)
            done += b.segments.shape[0]
            progress(0.1 + 0.8 * done / total, "drawing edges")
        for g in fig.nodes:
            _draw_glyph(p, g)
    finally:
        p.restore()
    for ln in fig.leaders:
        p.setPen(_pen(ln.color, ln.width))
        p.drawLine(QLineF(ln.x0, ln.y0, ln.x1, ln.y1))
    for r in fig.label_boxes:
        _draw_rect(p, r)
    for t in fig.texts:
        _draw_text(p, t, fig.font_families)
    if fig.legend is not None:
        for r in fig.legend.rects:
            _draw_rect(p, r)
        for g in fig.legend.glyphs:
            _draw_glyph(p, g)
        for t in fig.legend.texts:
            _draw_text(p, t, fig.font_families)
    progress(0.95, "saving")


def render_image(fig: Figure, *, dpi: float = BASE_DPI, progress: Progress = no_progress,
                 cancel: CancelToken = NEVER) -> QImage:
    """The figure as an image of ``width * dpi / 96`` by ``height * dpi / 96`` pixels."""
    if dpi <= 0:
        raise ExportError(f"DPI {dpi} must be positive")
    ensure_gui_app()
    scale = dpi / BASE_DPI
    image = QImage(max(1, round(fig.width * scale)), max(1, round(fig.height * scale)),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    dots = round(dpi / 0.0254)
    image.setDotsPerMeterX(dots)
    image.setDotsPerMeterY(dots)
    painter = QPainter(image)
    try:
        painter.scale(scale, scale)
        paint_figure(painter, fig, progress=progress, cancel=cancel)
    finally:
        painter.end()
    return image


def write_png(fig: Figure, path: str | Path, *, dpi: float = BASE_DPI,
              progress: Progress = no_progress, cancel: CancelToken = NEVER) -> None:
    """Render and save as PNG."""
    image = render_image(fig, dpi=dpi, progress=progress, cancel=cancel)
    if not image.save(str(path), "PNG"):  # type: ignore[call-overload]
        raise ExportError(f"{path}: could not write the PNG file")


def write_pdf(fig: Figure, path: str | Path, *, progress: Progress = no_progress,
              cancel: CancelToken = NEVER) -> None:
    """Save as a one-page vector PDF the size of the figure."""
    ensure_gui_app()
    writer = QPdfWriter(str(path))
    writer.setResolution(int(BASE_DPI))
    size = QPageSize(QSizeF(fig.width * 72.0 / BASE_DPI, fig.height * 72.0 / BASE_DPI),
                     QPageSize.Unit.Point, "figure", QPageSize.SizeMatchPolicy.ExactMatch)
    writer.setPageLayout(QPageLayout(size, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0)))
    painter = QPainter()
    if not painter.begin(writer):
        raise ExportError(f"{path}: could not write the PDF file")
    try:
        paint_figure(painter, fig, progress=progress, cancel=cancel)
    except Cancelled:
        painter.end()
        Path(path).unlink(missing_ok=True)  # no half-drawn PDF left behind
        raise
    finally:
        if painter.isActive():
            painter.end()


def export_document(doc: Document, options: ExportOptions, *, node_mask: np.ndarray | None = None,
                    edge_mask: np.ndarray | None = None, progress: Progress = no_progress,
                    cancel: CancelToken = NEVER) -> Figure:
    """Build the figure of ``doc`` and write it as ``options.format`` to ``options.path``.

    Safe on a worker thread when ``doc``'s graph and state are not replaced meanwhile
    (the state is immutable; pass a snapshot Document if in doubt).

    Raises:
        ExportError: No path, an unknown format, or the file could not be written.
        Cancelled: ``cancel`` was set.
    """
    if not options.path:
        raise ExportError("no output file given")
    progress(0.0, "building figure")
    fig = build_figure(doc.graph, state=doc.state, options=options.figure, node_mask=node_mask,
                       edge_mask=edge_mask)
    cancel.check()
    progress(0.1, "figure built")
    write_figure(fig, options.path, options.format, dpi=options.dpi, progress=progress,
                 cancel=cancel)
    return fig


def write_figure(fig: Figure, path: str | Path, fmt: str, *, dpi: float = BASE_DPI,
                 progress: Progress = no_progress, cancel: CancelToken = NEVER) -> None:
    """Write ``fig`` as ``fmt`` ("svg", "png" or "pdf")."""
    try:
        if fmt == "svg":
            write_svg(fig, path, progress=progress, cancel=cancel)
        elif fmt == "png":
            write_png(fig, path, dpi=dpi, progress=progress, cancel=cancel)
        elif fmt == "pdf":
            write_pdf(fig, path, progress=progress, cancel=cancel)
        else:
            raise ExportError(f"unknown export format {fmt!r} (use svg, png or pdf)")
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or exc}") from None
    progress(1.0, "written")
