"""The window's panels: node connections and details, the subgraph view, the prune bar,
verification and the export dialog. Each gets what it needs passed in (the document, the
runner, callbacks) and answers through signals; none imports the window.
"""

from .connections import ConnectionsPanel, DetailPanel
from .prune_bar import PruneBar
from .subgraph import SubgraphView
from .verify import VerifyPanel

__all__ = ["ConnectionsPanel", "DetailPanel", "PruneBar", "SubgraphView", "VerifyPanel"]
