"""Algorithms on a loaded graph: pruning and graph scores (the engine's), the visible subset
and input shares, search, supernodes, the layer × token layout and the graph's predictions
for verification. Pure numpy / networkx; never reads or writes files, never draws.
"""

from .layout import Layout, layer_layout
from .prune import PruneResult, prune
from .scores import GraphScores, graph_scores
from .search import search
from .supernodes import Unit, aggregate_edges, subgraph_units
from .verify import Prediction, Summary, predict, summarise, verdict

__all__ = [
    "GraphScores", "Layout", "Prediction", "PruneResult", "Summary", "Unit", "aggregate_edges",
    "graph_scores", "layer_layout", "predict", "prune", "search", "subgraph_units", "summarise",
    "verdict",
]
