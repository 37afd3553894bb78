"""Pure data and algorithms: the graph model, loaders, pruning, layout, the document.

Never imports Qt, app/ or models/.
"""

from .cancel import NEVER, CancelToken
from .errors import Cancelled, CircuitDeskError, GraphLoadError
from .io.load import load_graph
from .model import Graph, GraphMetadata, NodeKind, NodeTable

__all__ = [
    "NEVER", "CancelToken", "Cancelled", "CircuitDeskError", "Graph", "GraphLoadError",
    "GraphMetadata", "NodeKind", "NodeTable", "load_graph",
]
