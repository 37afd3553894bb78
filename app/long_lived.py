"""Keep the garbage collector's full passes from stalling the window.

Python's cyclic collector walks every tracked object on a full (generation 2) pass and holds
the GIL while it does, so whichever thread sets it off, the GUI thread waits: 25 ms with the
app's own modules, 250 ms once torch and transformers are imported (400k objects). Such passes
came during graph opening and the first edge render (``benchmarks/bench_stalls.py``).

Modules, classes, the main window and an opened model live as long as the program, so once they
exist :func:`freeze` moves them out of the collector's sight (:func:`gc.freeze`): later passes
walk only what came after. Frozen objects are still freed by reference counting, which is how a
replaced graph goes (``tests/test_stale_state.py``); only garbage in a reference cycle at the
moment of freezing would stay.
"""

from __future__ import annotations

import gc


def freeze() -> None:
    """Exempt every object alive now from later collector passes (see the module docstring)."""
    gc.freeze()
