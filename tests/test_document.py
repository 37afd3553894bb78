"""The document: commands, undo/redo, notifications."""

from __future__ import annotations

import pytest

from circuitdesk.graph import document as cmd
from circuitdesk.graph import load_graph
from circuitdesk.graph.document import Document, Supernode

from .conftest import FIXTURES


@pytest.fixture
def doc() -> Document:
    return Document(load_graph(FIXTURES["legacy"]))


def test_commands_notify_and_undo(doc: Document) -> None:
    seen: list[frozenset[str]] = []
    doc.state_changed.connect(seen.append)
    a, b = doc.graph.nodes.ids[:2]
    cmd.pin(doc, [a, "not-a-node"])
    assert doc.state.pinned == {a}
    cmd.drop(doc, [b])
    assert doc.state.hidden == {b}
    assert seen == [frozenset({"pinned"}), frozenset({"hidden"})]
    assert doc.undo() and doc.state.hidden == frozenset()
    assert doc.undo() and doc.state.pinned == frozenset()
    assert not doc.undo()
    assert doc.redo() and doc.state.pinned == {a}
    assert doc.can_redo


def test_new_edit_clears_redo(doc: Document) -> None:
    a = doc.graph.nodes.ids[0]
    cmd.pin(doc, [a])
    doc.undo()
    cmd.drop(doc, [a])
    assert not doc.can_redo


def test_slider_drag_is_one_undo_step(doc: Document) -> None:
    for t in (0.7, 0.6, 0.5):
        cmd.set_thresholds(doc, t, 0.9)
    assert doc.state.node_threshold == 0.5
    doc.undo()
    assert (doc.state.node_threshold, doc.state.edge_threshold) == (0.8, 0.98)
    with pytest.raises(ValueError):
        cmd.set_thresholds(doc, 1.5, 0.9)


def test_drop_unpins_and_keep_only(doc: Document) -> None:
    a, b, c = doc.graph.nodes.ids[:3]
    cmd.pin(doc, [a, b])
    cmd.drop(doc, [a])
    assert doc.state.pinned == {b}
    cmd.keep_only(doc, [b, c])
    assert doc.state.hidden == frozenset(doc.graph.nodes.ids) - {b, c}
    cmd.restore_all(doc)
    assert not doc.state.hidden


def test_groups(doc: Document) -> None:
    a, b, c = doc.graph.nodes.ids[:3]
    cmd.group(doc, [a, b], "g1")
    cmd.group(doc, [b, c], "g2")  # b moves to g2
    assert doc.state.supernodes == (Supernode("g1", (a,)), Supernode("g2", tuple(sorted((b, c)))))
    cmd.rename_group(doc, "g1", "first")
    assert doc.state.supernodes[0].name == "first"
    cmd.ungroup(doc, "first")
    assert [s.name for s in doc.state.supernodes] == ["g2"]


def test_positions_labels_and_click(doc: Document) -> None:
    a = doc.graph.nodes.ids[0]
    cmd.move_nodes(doc, {a: (1.5, 2.5)}, merge_key="drag")
    cmd.move_nodes(doc, {a: (2.0, 3.0)}, merge_key="drag")
    assert doc.state.positions[a] == (2.0, 3.0)
    cmd.set_label(doc, a, "my label")
    assert cmd.display_label(doc, 0) == "my label"
    cmd.click(doc, a)
    assert doc.state.clicked == a and doc.state.selected == {a}
    doc.undo()
    doc.undo()
    doc.undo()
    assert a not in doc.state.positions
    with pytest.raises(KeyError):
        cmd.click(doc, "nope")
