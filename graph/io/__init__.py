"""File formats: reading graphs (Neuronpedia / circuit-tracer JSON, transformer-circuits.pub
data, circuit-tracer ``.pt``), writing JSON, and sessions (the view state in ``qParams``).

Everything that touches a file lives here; the loaders establish the
:class:`~circuitdesk.graph.model.Graph` invariants or raise our own error.
"""

from .dense import DenseGraphData, graph_from_dense
from .json_write import graph_to_json, write_json
from .load import load_graph
from .session import qparams_from_state, save_session, state_from_qparams

__all__ = [
    "DenseGraphData", "graph_from_dense", "graph_to_json", "load_graph", "qparams_from_state",
    "save_session", "state_from_qparams", "write_json",
]
