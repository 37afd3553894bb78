"""`circuitdesk export`: SVG without Qt, PNG/PDF through Qt, sessions, bad input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from circuitdesk.app.cli import main

from .conftest import DATA, FIXTURES

SVG = "{http://www.w3.org/2000/svg}"


def _texts(path: Path, cls: str) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") == cls]


def test_svg_export_of_a_fixture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fig.svg"
    assert main(["export", str(FIXTURES["legacy"]), "--svg", str(out), "--width", "900",
                 "--height", "600"]) == 0
    root = ET.parse(out).getroot()
    assert root.get("width") == "900" and root.get("height") == "600"
    assert '" Austin" (p=0.396)' in _texts(out, "label")
    assert "wrote" in capsys.readouterr().out


def test_session_pins_and_supernodes(tmp_path: Path) -> None:
    out = tmp_path / "fig.svg"
    tc = str(FIXTURES["tc"])
    assert main(["export", tc, "--svg", str(out), "--session", tc, "--subgraph"]) == 0
    groups = _texts(out, "group")
    assert "small/little/tiny" in groups and len(groups) == 8
    # Subgraph: 8 supernodes plus the 2 pinned logits, nothing else.
    root = ET.parse(out).getroot()
    nodes = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "nodes")
    assert len(list(nodes)) == 10


def test_subgraph_from_the_files_own_session_dark_with_arrows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub.svg"
    tc = str(FIXTURES["tc"])  # its qParams pin two logits and group eight supernodes
    assert main(["export", tc, "--svg", str(out), "--subgraph", "--theme", "dark",
                 "--arrows"]) == 0
    root = ET.parse(out).getroot()
    assert len(_texts(out, "group")) == 8
    background = next(root.iter(f"{SVG}rect"))
    assert background.get("fill") == "#1e1f22"
    edges = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "edges")
    lines = [el for g in edges if g.get("stroke") not in (None, "none") for el in g]
    heads = [el for g in edges if g.get("fill") and g.get("fill") != "none" for el in g]
    assert lines and len(heads) == len(lines)
    legacy = str(FIXTURES["legacy"])  # nothing pinned or grouped: say so, write nothing
    assert main(["export", legacy, "--svg", str(tmp_path / "x.svg"), "--subgraph"]) == 2
    assert "nothing is pinned" in capsys.readouterr().err
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.parametrize("content", [b"", b'{"nodes": [', b"\x00\xffgarbage"])
def test_unreadable_input_exits_2_with_one_line(tmp_path: Path, content: bytes,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    out = tmp_path / "x.svg"
    assert main(["export", str(bad), "--svg", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err
    assert not out.exists()


def test_missing_outputs_and_bad_session(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    legacy = str(FIXTURES["legacy"])
    assert main(["export", legacy]) == 2
    assert "--svg" in capsys.readouterr().err
    bad = tmp_path / "s.json"
    bad.write_text("[1, 2]")
    assert main(["export", legacy, "--svg", str(tmp_path / "x.svg"), "--session", str(bad)]) == 2
    assert "qParams" in capsys.readouterr().err
    assert main(["export", legacy, "--svg", str(tmp_path / "no" / "dir" / "x.svg")]) == 2


def test_thresholds_prune_the_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    pt = DATA / "ct050_small.pt"
    args = ["export", str(pt), "--svg", str(tmp_path / "x.svg")]
    assert main(args + ["--node-threshold", "1.0", "--edge-threshold", "1.0"]) == 0
    full = len(list(ET.parse(tmp_path / "x.svg").getroot().iter(f"{SVG}circle")))
    assert main(args + ["--node-threshold", "0.3", "--edge-threshold", "0.5"]) == 0
    pruned = len(list(ET.parse(tmp_path / "x.svg").getroot().iter(f"{SVG}circle")))
    assert pruned < full
    assert main(args + ["--node-threshold", "1.5"]) == 2


@pytest.mark.gui
def test_png_and_pdf_through_qt(qapp: object, tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    png, pdf = tmp_path / "f.png", tmp_path / "f.pdf"
    assert main(["export", str(FIXTURES["neuronpedia"]), "--png", str(png), "--pdf", str(pdf),
                 "--dpi", "192", "--width", "600", "--height", "400", "--theme", "dark",
                 "--transparent", "--no-labels"]) == 0
    img = QImage(str(png))
    assert (img.width(), img.height()) == (1200, 800)
    assert img.hasAlphaChannel() and img.pixelColor(2, 2).alpha() == 0
    assert round(img.dotsPerMeterX() * 0.0254) == 192
    assert pdf.read_bytes()[:5] == b"%PDF-"
