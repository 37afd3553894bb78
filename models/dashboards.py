"""Build feature dashboards offline: stream a text corpus through the replacement model.

For every feature the build keeps, in bounded memory, a streaming top-k of activating
contexts (one slot per window at most, the window's strongest token with ``context`` tokens
either side and the feature's activation on each), a histogram of positive activations and a
firing count; never the activations themselves. The state is written to the dashboards file
(graph/io/dashboards.py) every ``checkpoint_every`` windows and when cancelled, so a build
resumes where it stopped and ends with the same file as one uninterrupted run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..graph.cancel import NEVER, CancelToken, Progress, no_progress
from ..graph.errors import Cancelled
from ..graph.io.dashboards import DB_NAME, HIST_EDGES, DashboardDB
from .protocol import InterventionError, ReplacementBackend

CORPUS_SUFFIXES = (".txt", ".md", ".jsonl")


def corpus_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.suffix.lower() in CORPUS_SUFFIXES and f.is_file())
    if not p.is_file():
        raise InterventionError(f"{p}: no such corpus file or folder")
    return [p]


def documents(path: str | Path) -> Iterator[str]:
    """The corpus's documents: paragraphs of .txt/.md files, the ``text`` of .jsonl lines."""
    for f in corpus_files(path):
        text = f.read_text(encoding="utf-8", errors="replace")
        if f.suffix.lower() == ".jsonl":
            for line in text.splitlines():
                try:
                    rec = orjson.loads(line) if line.strip() else None
                except orjson.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get("text"), str):
                    yield rec["text"]
        else:
            yield from (d.strip() for d in text.split("\n\n") if d.strip())


def windows(backend: ReplacementBackend, corpus: str | Path, window: int = 64,
            max_tokens: int | None = None) -> list[list[int]]:
    """Token windows of at most ``window`` tokens, each starting with the model's BOS."""
    out: list[list[int]] = []
    budget = max_tokens if max_tokens is not None else 1 << 62
    for doc in documents(corpus):
        ids = backend.encode(doc)
        for start in range(0, len(ids), window - 1):
            chunk = ids[start:start + window - 1][:budget]
            if not chunk:
                break
            out.append(backend.tokenize(chunk))
            budget -= len(chunk)
        if budget <= 0:
            break
    return out


def default_db_path(transcoders_dir: str | Path | None) -> Path:
    """Next to the transcoders when that folder is writable, else the user's cache."""
    if transcoders_dir is not None:
        folder = Path(transcoders_dir)
        folder = folder.parent if folder.is_file() else folder
        try:
            probe = folder / (DB_NAME + ".probe")
            probe.write_bytes(b"")
            probe.unlink()
            return folder / DB_NAME
        except OSError:
            pass
    digest = hashlib.sha256(str(transcoders_dir).encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "circuitdesk" / f"dashboards-{digest}.sqlite"


def _fresh(n_layers: int, d: int, top_k: int, context: int) -> dict[str, np.ndarray]:
    return {"top_val": np.full((n_layers, d, top_k), -np.inf, np.float32),
            "top_ctx": np.full((n_layers, d, top_k), -1, np.int64),
            "top_pos": np.zeros((n_layers, d, top_k), np.int32),
            "top_acts": np.zeros((n_layers, d, top_k, 2 * context + 1), np.float16),
            "hist": np.zeros((n_layers, d, len(HIST_EDGES) - 1), np.int64),
            "fired": np.zeros((n_layers, d), np.int64)}


def update(state: dict[str, np.ndarray], acts: np.ndarray, ctx_id: int, context: int) -> None:
    """Fold one window's activations ``[n_layers, n_pos, d]`` (BOS left out) into the state."""
    n_layers, n_pos, d = acts.shape
    if n_pos == 0:
        return
    on = acts > 0
    state["fired"] += on.sum(axis=1)
    li, pi, fi = np.nonzero(on)
    bins = np.clip(np.searchsorted(HIST_EDGES, acts[li, pi, fi]) - 1, 0, len(HIST_EDGES) - 2)
    nb = len(HIST_EDGES) - 1
    state["hist"] += np.bincount((li * d + fi) * nb + bins,
                                 minlength=n_layers * d * nb).reshape(n_layers, d, nb)
    best = acts.max(axis=1)
    where = acts.argmax(axis=1)
    top_val = state["top_val"]
    cl, cf = np.nonzero((best > 0) & (best > top_val[..., -1]))
    if not cl.size:
        return
    span = np.arange(2 * context + 1)
    padded = np.pad(acts, ((0, 0), (context, context), (0, 0)))
    p = where[cl, cf]
    snippet = padded[cl[:, None], p[:, None] + span[None, :], cf[:, None]]
    vals = np.concatenate([top_val[cl, cf], best[cl, cf, None]], axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")[:, :top_val.shape[-1]]
    rows = np.arange(cl.size)[:, None]

    def merged(name: str, new: np.ndarray) -> np.ndarray:
        return np.concatenate([state[name][cl, cf], new], axis=1)[rows, order]

    state["top_val"][cl, cf] = vals[rows, order]
    state["top_ctx"][cl, cf] = merged("top_ctx", np.full((cl.size, 1), ctx_id, np.int64))
    state["top_pos"][cl, cf] = merged("top_pos", p[:, None].astype(np.int32))
    state["top_acts"][cl, cf] = merged("top_acts", snippet[:, None, :].astype(np.float16))


def build_dashboards(backend: ReplacementBackend, corpus: str | Path, db_path: str | Path, *,
                     top_k: int = 20, context: int = 8, window: int = 64,
                     max_tokens: int | None = None, checkpoint_every: int | None = None,
                     checkpoint_seconds: float = 10.0,
                     progress: Progress = no_progress, cancel: CancelToken = NEVER) -> DashboardDB:
    """Build (or resume) the dashboards of every feature over ``corpus`` into ``db_path``.

    The state is saved every ``checkpoint_every`` windows when given, else every
    ``checkpoint_seconds``, and always when cancelled.
    """
    if top_k < 1 or context < 0 or window < 2:
        raise InterventionError("top-k must be >= 1, context >= 0 and the window >= 2 tokens")
    runs = windows(backend, corpus, window, max_tokens)
    if not runs:
        raise InterventionError(f"{corpus}: the corpus has no text")
    digest = hashlib.sha256()
    for f in corpus_files(corpus):
        digest.update(f.read_bytes())
    settings: dict[str, Any] = {
        "model_name": backend.model_name, "n_layers": backend.n_layers,
        "d_transcoder": backend.d_transcoder, "top_k": top_k, "context": context,
        "window": window, "max_tokens": max_tokens, "corpus": digest.hexdigest()}
    db = DashboardDB(db_path)
    meta = db.meta()
    if meta and all(meta.get(k) == v for k, v in settings.items()):
        state, done, n_tokens = db.arrays(), int(meta["windows_done"]), int(meta["n_tokens"])
    else:
        Path(db_path).unlink(missing_ok=True)
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        state, done, n_tokens = _fresh(backend.n_layers, backend.d_transcoder, top_k, context), 0, 0
    pending: dict[int, list[str]] = {}
    last_save = time.monotonic()

    def save(finished: bool = False) -> None:
        db.save({**settings, "windows_done": done, "n_tokens": n_tokens, "finished": finished,
                 "windows": len(runs)}, state, pending)
        pending.clear()

    try:
        while done < len(runs):
            cancel.check()
            ids = runs[done]
            run = backend.intervene(ids, [], return_activations=True)
            if run.activations is None:
                raise InterventionError("the backend returned no feature activations")
            update(state, np.asarray(run.activations, np.float32)[:, 1:], done, context)
            pending[done] = backend.token_strings(ids[1:])
            n_tokens += len(ids) - 1
            done += 1
            due = done % checkpoint_every == 0 if checkpoint_every else \
                time.monotonic() - last_save >= checkpoint_seconds
            if due:
                save()
                last_save = time.monotonic()
            progress(done / len(runs), "dashboards")
    except Cancelled:
        save()
        raise
    save(finished=True)
    db.write_labels()
    return db
