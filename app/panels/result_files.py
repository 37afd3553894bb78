"""Saving a panel's results: ask where (unless given), then write CSV, JSON or text."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QWidget


def export_buttons(panel: Any) -> QHBoxLayout:
    """The CSV… / JSON… / Plot SVG… row of a results panel (its export_* methods)."""
    row = QHBoxLayout()
    for text, slot in (("CSV…", panel.export_csv), ("JSON…", panel.export_json),
                       ("Plot SVG…", panel.export_svg)):
        button = QPushButton(text)
        button.clicked.connect(lambda _=False, s=slot: s())
        row.addWidget(button)
    return row


def save_path(parent: QWidget, title: str, filt: str, path: str | None) -> str | None:
    """``path`` when given (tests, scripts), else the user's choice; None when cancelled."""
    if path is None:
        path, _ = QFileDialog.getSaveFileName(parent, title, "", filt)
    return path or None


def write_csv(path: str, rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    Path(path).write_text(buf.getvalue(), encoding="utf-8")


def write_json(path: str, data: Any) -> None:
    Path(path).write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2
                                        | orjson.OPT_SERIALIZE_NUMPY))
