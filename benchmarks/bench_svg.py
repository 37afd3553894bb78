"""Time ``rsvg-convert`` on exported figures against plain-line references of the same size.

    python benchmarks/bench_svg.py [--synthetic N] [--magick] [GRAPH.json ...]

For each graph (default: every JSON in ../shared/data/graphs and the bundled demo graphs)
it exports the default SVG figure, then writes a reference SVG of the same size holding
only the figure's edges as plain, individually styled ``<line>`` elements, and times
``rsvg-convert`` (librsvg on cairo, the renderer behind GNOME's viewers) on both, best of
three. Prints the ratio per figure (goal: at most 1.5x). Skips when rsvg-convert is not
on the PATH. ``--synthetic N`` adds a seeded random graph of N links (the issue's
Neuronpedia graph had 40,249; one bucketed path per colour took rsvg over 8 minutes). With ``--magick`` it also renders each figure with ImageMagick's
``convert`` and prints how long that took.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from circuitdesk.graph import load_graph
from circuitdesk.graph.figure import build_figure, write_svg
from circuitdesk.graph.figure.style import Figure
from circuitdesk.graph.io.session import state_from_qparams
from circuitdesk.graph.model import Graph, GraphMetadata, NodeKind, make_node_table

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.5


def default_graphs() -> list[Path]:
    shared = sorted((ROOT.parent.parent / "shared" / "data" / "graphs").glob("*.json"))
    if not shared:
        shared = sorted(Path("/work/shared/data/graphs").glob("*.json"))
    return shared + sorted((ROOT / "resources" / "demo" / "graphs").glob("*.json"))


def synthetic_graph(n_links: int, n_nodes: int = 3000, n_pos: int = 12) -> Graph:
    """A seeded random graph: features over 26 layers and ``n_pos`` positions, 10 logits."""
    rng = np.random.default_rng(0)
    rows = [{"id": f"E{p}", "kind": NodeKind.EMBEDDING, "layer": -1, "position": p}
            for p in range(n_pos)]
    rows += [{"id": f"F{i}", "kind": NodeKind.FEATURE, "layer": int(rng.integers(0, 26)),
              "position": int(rng.integers(0, n_pos)), "label": f"feature {i}",
              "influence": float(rng.uniform())} for i in range(n_nodes)]
    rows += [{"id": f"L{k}", "kind": NodeKind.LOGIT, "layer": 26, "position": n_pos - 1,
              "label": f'Output " tok{k}" (p={0.5 / (k + 1):.3f})', "token_prob": 0.5 / (k + 1)}
             for k in range(10)]
    n = len(rows)
    src = rng.integers(0, n - 10, n_links)
    dst = rng.integers(n_pos, n, n_links)
    return Graph(nodes=make_node_table(rows), source=src.astype(np.int64),
                 target=dst.astype(np.int64),
                 weight=rng.normal(size=n_links).astype(np.float32),
                 metadata=GraphMetadata(prompt_tokens=[f" t{p}" for p in range(n_pos)]))


def reference_svg(fig: Figure, path: Path) -> int:
    """The figure's edges, and nothing else, as plain ``<line>`` elements; returns how many."""
    seg = np.vstack([b.segments for b in fig.edges]) if fig.edges else np.zeros((0, 4))
    lines = [f'<line x1="{a:.1f}" y1="{b:.1f}" x2="{c:.1f}" y2="{d:.1f}" stroke="#888888" '
             'stroke-width="1"/>' for a, b, c, d in seg.tolist()]
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{fig.width:g}" height="{fig.height:g}">\n'
        + "\n".join(lines) + "\n</svg>\n", encoding="utf-8")
    return len(lines)


def render_time(exe: str, svg: Path, png: Path, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([exe, str(svg), "-o", str(png)], check=True, timeout=600)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str]) -> int:
    exe = shutil.which("rsvg-convert")
    if exe is None:
        print("skipped: rsvg-convert is not on the PATH (Debian: apt-get install librsvg2-bin)")
        return 0
    magick = shutil.which("convert") if "--magick" in argv else None
    synthetic = [int(argv[k + 1]) for k, a in enumerate(argv[:-1]) if a == "--synthetic"]
    graphs: list[Path | int] = [Path(a) for k, a in enumerate(argv) if not a.startswith("--")
                                and (k == 0 or argv[k - 1] != "--synthetic")]
    graphs = (graphs or list(default_graphs())) + list(synthetic)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for g in graphs:
            graph = synthetic_graph(g) if isinstance(g, int) else load_graph(g)
            name = f"synthetic-{g}" if isinstance(g, int) else g.name
            fig = build_figure(graph, state=state_from_qparams(graph))
            svg, ref = out / f"{name}.svg", out / f"{name}.ref.svg"
            write_svg(fig, svg)
            n = reference_svg(fig, ref)
            t_fig = render_time(exe, svg, out / "fig.png")
            t_ref = render_time(exe, ref, out / "ref.png")
            ratio = t_fig / max(t_ref, 1e-9)
            worst = max(worst, ratio)
            line = (f"{name}: {n} edges, figure {t_fig:.3f} s, plain lines {t_ref:.3f} s, "
                    f"ratio {ratio:.2f}x")
            if magick:
                t0 = time.perf_counter()
                subprocess.run([magick, str(svg), str(out / "im.png")], check=True, timeout=600)
                line += f", ImageMagick {time.perf_counter() - t0:.1f} s"
            print(line, flush=True)
    print(f"worst ratio {worst:.2f}x (goal <= {GOAL}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
