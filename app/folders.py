"""Where file dialogs start: the folder the user last wrote to, else their Documents folder.

Never a folder inside the installed package: the bundled demo graph lives in
site-packages, and a figure or session saved next to it would vanish with the next
upgrade (or fail, where site-packages is read-only).
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

_KEY = "last_folder"
_last: Path | None = None
"""The last folder written this session, for dialogs given no QSettings (tests, CLI)."""


def _installed_roots() -> list[Path]:
    # The folder holding circuitdesk's subpackages: site-packages/circuitdesk when
    # installed, the checkout in an editable install.
    roots = [Path(__file__).resolve().parent.parent]
    for key in ("purelib", "platlib"):
        roots.append(Path(sysconfig.get_paths()[key]).resolve())
    roots += [Path(p).resolve() for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    return roots


def is_installed_path(path: str | Path) -> bool:
    """Whether ``path`` lies inside the installed package or a site-packages folder."""
    p = Path(path).expanduser().resolve()
    return any(p == r or r in p.parents for r in _installed_roots())


def documents_folder() -> Path:
    """The user's Documents folder (QStandardPaths), else their home folder."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs) if docs and Path(docs).is_dir() else Path.home()


def default_folder(settings: QSettings | None = None) -> Path:
    """The last folder written to (when it still exists), else the Documents folder."""
    value = settings.value(_KEY) if settings is not None else None
    candidates = [Path(str(value))] if value else []
    if _last is not None:
        candidates.append(_last)
    for folder in candidates:
        if folder.is_dir() and not is_installed_path(folder):
            return folder
    return documents_folder()


def remember_folder(path: str | Path, settings: QSettings | None = None) -> None:
    """Record the folder of a file the user just wrote."""
    global _last
    folder = Path(path).expanduser().resolve().parent
    if is_installed_path(folder):
        return
    _last = folder
    if settings is not None:
        settings.setValue(_KEY, str(folder))


def path_digest(path: Path) -> str:
    """16 hex digits naming the file at ``path`` (its resolved path) in settings keys and
    autosave names."""
    import hashlib  # here: loading OpenSSL is 3-4 ms of the window's first frame

    return hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]
