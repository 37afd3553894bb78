"""Trace the graphs shipped with the demo (resources/demo/graphs/) from the demo model.

    python -m circuitdesk.models.demo.graphs [--demo resources/demo]

Each graph is written as JSON with every edge (so the graph's direct effects can be checked
exactly against the model) and with pruning switched on in its saved view state; the first
one is also written as the engine's ``.pt``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...graph.io.dense import graph_from_dense
from ...graph.io.json_write import graph_to_json, write_json
from ...graph.io.session import qparams_from_state, state_from_qparams
from ..locate import DEMO_MODEL, demo_dir
from ..torch.pt_writer import write_pt
from ..registry import open_backend

GRAPHS = (
    ("capital-france_plt", "The capital of France is", "transcoders-plt"),
    ("capital-france_clt", "The capital of France is", "transcoders-clt"),
    ("opposite-small_plt", "The opposite of small is", "transcoders-plt"),
    ("counting_clt", "one two three", "transcoders-clt"),
)
DEFAULT = "capital-france_plt.json"
"""The graph the app opens on first launch."""


def trace_demo_graphs(demo: Path) -> list[Path]:
    out_dir = demo / "graphs"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    backends = {}
    for i, (name, prompt, tcs) in enumerate(GRAPHS):
        if tcs not in backends:
            backends[tcs] = open_backend("torch", model_dir=demo / "model",
                                         transcoders_dir=demo / tcs)
        backend = backends[tcs]
        data = backend.trace(backend.tokenize(prompt))
        data.model = DEMO_MODEL
        graph = graph_from_dense(data)
        graph.metadata.raw.update(slug=name, model=DEMO_MODEL)
        state = state_from_qparams(graph)  # pruning on: a raw engine graph
        obj = graph_to_json(graph, qparams=qparams_from_state(graph, state))
        path = out_dir / f"{name}.json"
        write_json(path, obj)
        written.append(path)
        if i == 0:
            pt = out_dir / f"{name}.pt"
            write_pt(pt, data, backend.config_dict())  # type: ignore[attr-defined]
            written.append(pt)
    for b in backends.values():
        b.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", type=Path, default=demo_dir())
    args = parser.parse_args(argv)
    for path in trace_demo_graphs(args.demo):
        print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
