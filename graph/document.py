"""The open document: one graph plus the user's view state, with undo.

The view state is an immutable :class:`ViewState`; every edit is a command
function below that builds a new state and hands it to :meth:`Document.apply`,
which records the old one for undo and announces what changed. Widgets never
keep a copy: they read ``doc.state`` when notified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .model import Graph

if TYPE_CHECKING:
    from psygnal import SignalInstance

Position = tuple[float, float]


@dataclass(frozen=True)
class Supernode:
    """A named group of nodes (our unique ids), drawn and ablated together."""

    name: str
    members: tuple[str, ...]


def _frozen_map(d: Mapping[str, object] | None = None) -> Mapping[str, object]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class ViewState:
    """Everything the user set on top of the graph. All ids are our unique node ids."""

    node_threshold: float = 0.8
    edge_threshold: float = 0.98
    pruning: bool = False
    """Whether the thresholds are applied (off: the file's own graph is shown as is)."""
    pinned: frozenset[str] = frozenset()
    selected: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()
    supernodes: tuple[Supernode, ...] = ()
    positions: Mapping[str, Position] = field(default_factory=_frozen_map)  # type: ignore[arg-type]
    labels: Mapping[str, str] = field(default_factory=_frozen_map)  # type: ignore[arg-type]
    clicked: str | None = None
    subgraph_positions: Mapping[str, Position] = field(default_factory=_frozen_map)  # type: ignore[arg-type]
    """Positions in the subgraph view, keyed by node id or ``group:<name>``."""

    def changed_fields(self, other: ViewState) -> frozenset[str]:
        return frozenset(f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name))

    def persistent(self) -> ViewState:
        """This state without the selection and the clicked node (what sessions keep)."""
        return replace(self, selected=frozenset(), clicked=None)


TRANSIENT = frozenset({"selected", "clicked"})
"""Fields a user does not expect to undo or to be asked to save: what is selected."""


@dataclass(frozen=True)
class Checkpoint:
    """A document as it was (see :meth:`Document.checkpoint`)."""

    graph: Graph
    path: Path | None
    state: ViewState
    undo: tuple[tuple[ViewState, str], ...]
    redo: tuple[tuple[ViewState, str], ...]
    saved: ViewState
    auto_labels: Mapping[str, str]


class Document:
    """Holds the graph and view state; announces changes through psygnal signals.

    Signals:
        state_changed(frozenset[str]): names of the ViewState fields that changed.
        graph_replaced(): a new graph was set (the state was reset too).

    Selection and clicks (:data:`TRANSIENT`) change the state without an undo step and
    without making the document :attr:`modified`; undo and redo keep the current selection.
    """

    state_changed: SignalInstance
    graph_replaced: SignalInstance

    def __init__(self, graph: Graph, path: Path | None = None, state: ViewState | None = None):
        # psygnal is imported here, not with the module: its import reads package metadata
        # (25 ms), which the app's first frame does not wait for (no document exists yet)
        from psygnal import SignalInstance

        self.state_changed = SignalInstance((frozenset,), instance=self, name="state_changed")
        self.graph_replaced = SignalInstance((), instance=self, name="graph_replaced")
        self.graph = graph
        self.path = path
        self._state = state or ViewState()
        self._undo: list[tuple[ViewState, str]] = []
        self._redo: list[tuple[ViewState, str]] = []
        self._last_key: str | None = None
        self._saved = self._state.persistent()
        self.auto_labels: Mapping[str, str] = {}
        """Labels of nodes the file leaves unlabelled: imported, or from feature dashboards
        (node id → label); shown below the user's and the file's own."""

    @property
    def state(self) -> ViewState:
        return self._state

    @property
    def modified(self) -> bool:
        """Whether anything a session keeps changed since the file was opened or saved."""
        return self._state.persistent() != self._saved

    def mark_saved(self) -> None:
        """The current state is on disk (a session was written)."""
        self._saved = self._state.persistent()

    def set_auto_labels(self, labels: Mapping[str, str]) -> None:
        """New automatic labels (dashboards built, labels imported); not an undo step."""
        self.auto_labels = dict(labels)
        self.state_changed.emit(frozenset({"labels"}))

    def end_merge(self) -> None:
        """The current gesture (a slider or node drag) ended: the next edit is a new step."""
        self._last_key = None

    def apply(self, new: ViewState, description: str, *, merge_key: str | None = None) -> None:
        """Make ``new`` the current state, recording the old one for undo.

        Consecutive edits with the same ``merge_key`` (a slider drag, a node drag)
        collapse into one undo step.
        """
        changed = new.changed_fields(self._state)
        if not changed:
            return
        if changed - TRANSIENT:
            if merge_key is None or merge_key != self._last_key or not self._undo:
                self._undo.append((self._state, description))
            self._last_key = merge_key
            self._redo.clear()
        self._state = new
        self.state_changed.emit(changed)

    def undo(self) -> bool:
        return self._step(self._undo, self._redo)

    def redo(self) -> bool:
        return self._step(self._redo, self._undo)

    def _step(self, src: list[tuple[ViewState, str]], dst: list[tuple[ViewState, str]]) -> bool:
        if not src:
            return False
        state, description = src.pop()
        dst.append((self._state, description))
        hidden = state.hidden
        state = replace(state, selected=self._state.selected - hidden,
                        clicked=None if self._state.clicked in hidden else self._state.clicked)
        changed = state.changed_fields(self._state)
        self._state = state
        self._last_key = None
        self.state_changed.emit(changed)
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_text(self) -> str:
        return self._undo[-1][1] if self._undo else ""

    def redo_text(self) -> str:
        return self._redo[-1][1] if self._redo else ""

    def checkpoint(self) -> Checkpoint:
        """Everything :meth:`rollback` needs to bring this document back as it is now."""
        return Checkpoint(self.graph, self.path, self._state, tuple(self._undo),
                          tuple(self._redo), self._saved, dict(self.auto_labels))

    def rollback(self, saved: Checkpoint) -> None:
        """Undo a :meth:`replace_graph` whose set-up failed: the old graph, state and history."""
        self.graph, self.path, self._state = saved.graph, saved.path, saved.state
        self._undo, self._redo = list(saved.undo), list(saved.redo)
        self._saved, self._last_key = saved.saved, None
        self.auto_labels = saved.auto_labels
        self.graph_replaced.emit()

    def replace_graph(self, graph: Graph, path: Path | None, state: ViewState | None = None,
                      auto_labels: Mapping[str, str] | None = None) -> None:
        self.graph = graph
        self.auto_labels = dict(auto_labels or {})
        self.path = path
        self._state = state or ViewState()
        self._undo.clear()
        self._redo.clear()
        self._last_key = None
        self._saved = self._state.persistent()
        self.graph_replaced.emit()


# ------------------------------------------------------------------ commands


def _known(doc: Document, ids: Iterable[str]) -> frozenset[str]:
    return frozenset(i for i in ids if doc.graph.has_node(i))


def set_thresholds(doc: Document, node_threshold: float, edge_threshold: float, *,
                   gesture: str = "thresholds") -> None:
    """Consecutive changes within one ``gesture`` (a drag of one slider) are one undo step;
    :meth:`Document.end_merge` ends the gesture."""
    for name, value in (("node", node_threshold), ("edge", edge_threshold)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} threshold {value} is outside [0, 1]")
    doc.apply(replace(doc.state, node_threshold=float(node_threshold),
                      edge_threshold=float(edge_threshold)), "Change thresholds",
              merge_key=gesture)


def set_pruning(doc: Document, enabled: bool) -> None:
    doc.apply(replace(doc.state, pruning=bool(enabled)),
              "Prune" if enabled else "Show unpruned graph")


def select(doc: Document, ids: Iterable[str], *, add: bool = False) -> None:
    chosen = _known(doc, ids)
    new = doc.state.selected | chosen if add else chosen
    doc.apply(replace(doc.state, selected=new), "Select", merge_key="select")


def click(doc: Document, node_id: str | None) -> None:
    """Make ``node_id`` the clicked node (its links highlighted); None clears."""
    if node_id is not None and not doc.graph.has_node(node_id):
        raise KeyError(node_id)
    selected = frozenset([node_id]) if node_id else frozenset()
    doc.apply(replace(doc.state, clicked=node_id, selected=selected), "Click", merge_key="select")


def pin(doc: Document, ids: Iterable[str]) -> None:
    doc.apply(replace(doc.state, pinned=doc.state.pinned | _known(doc, ids)), "Pin")


def unpin(doc: Document, ids: Iterable[str]) -> None:
    doc.apply(replace(doc.state, pinned=doc.state.pinned - frozenset(ids)), "Unpin")


def toggle_pin(doc: Document, node_id: str) -> None:
    (unpin if node_id in doc.state.pinned else pin)(doc, [node_id])


def clear_pins(doc: Document) -> None:
    doc.apply(replace(doc.state, pinned=frozenset()), "Clear pins")


def drop(doc: Document, ids: Iterable[str]) -> None:
    """Hide nodes by hand (prune them); pinned nodes dropped are unpinned."""
    gone = _known(doc, ids)
    doc.apply(replace(doc.state, hidden=doc.state.hidden | gone, pinned=doc.state.pinned - gone,
                      selected=doc.state.selected - gone,
                      clicked=None if doc.state.clicked in gone else doc.state.clicked),
              f"Drop {len(gone)} node(s)")


def keep_only(doc: Document, ids: Iterable[str]) -> None:
    keep = _known(doc, ids)
    gone = frozenset(doc.graph.nodes.ids) - keep
    drop(doc, gone)


def restore_all(doc: Document) -> None:
    doc.apply(replace(doc.state, hidden=frozenset()), "Restore dropped nodes")


def move_nodes(doc: Document, moves: Mapping[str, Position], *, merge_key: str | None = None) -> None:
    positions = dict(doc.state.positions)
    positions.update({k: (float(x), float(y)) for k, (x, y) in moves.items() if doc.graph.has_node(k)})
    doc.apply(replace(doc.state, positions=_frozen_map(positions)), "Move nodes",  # type: ignore[arg-type]
              merge_key=merge_key)


def move_subgraph_nodes(doc: Document, moves: Mapping[str, Position]) -> None:
    positions = dict(doc.state.subgraph_positions)
    positions.update({k: (float(x), float(y)) for k, (x, y) in moves.items()})
    doc.apply(replace(doc.state, subgraph_positions=_frozen_map(positions)),  # type: ignore[arg-type]
              "Move in subgraph")


def reset_positions(doc: Document) -> None:
    doc.apply(replace(doc.state, positions=_frozen_map()), "Reset layout")  # type: ignore[arg-type]


def set_label(doc: Document, node_id: str, label: str) -> None:
    if not doc.graph.has_node(node_id):
        raise KeyError(node_id)
    labels = dict(doc.state.labels)
    labels[node_id] = label
    doc.apply(replace(doc.state, labels=_frozen_map(labels)), "Edit label")  # type: ignore[arg-type]


def group(doc: Document, ids: Iterable[str], name: str, *, pin: bool = False) -> None:
    """Make a supernode of ``ids``; a node belongs to at most one group.

    With ``pin``, the members are pinned in the same undo step (groups live in the subgraph
    view, which shows pinned nodes).
    """
    members = tuple(sorted(_known(doc, ids)))
    if not members:
        return
    taken = set(members)
    rest = tuple(
        Supernode(s.name, tuple(m for m in s.members if m not in taken)) for s in doc.state.supernodes
    )
    rest = tuple(s for s in rest if s.members)
    pinned = doc.state.pinned | frozenset(members) if pin else doc.state.pinned
    doc.apply(replace(doc.state, supernodes=rest + (Supernode(name, members),), pinned=pinned),
              "Group")


def ungroup(doc: Document, name: str) -> None:
    doc.apply(replace(doc.state, supernodes=tuple(s for s in doc.state.supernodes
                                                  if s.name != name)), "Ungroup")


def rename_group(doc: Document, old: str, new: str) -> None:
    doc.apply(replace(doc.state, supernodes=tuple(Supernode(new, s.members) if s.name == old else s
                                                  for s in doc.state.supernodes)), "Rename group")


def display_label(doc: Document, index: int) -> str:
    """The label the user sees for node ``index``: their edit, else the file's, else the
    automatic one (from feature dashboards or imported labels)."""
    nid = doc.graph.nodes.ids[index]
    if nid in doc.state.labels:
        return doc.state.labels[nid]
    return doc.graph.nodes.label[index] or doc.auto_labels.get(nid, "")


def is_automatic_label(doc: Document, index: int) -> bool:
    """Whether node ``index`` shows an automatic label (not the file's, not the user's)."""
    nid = doc.graph.nodes.ids[index]
    return (nid not in doc.state.labels and not doc.graph.nodes.label[index]
            and nid in doc.auto_labels)
