"""Say in one line why Qt's platform plugin cannot start, before Qt aborts with its own text.

When the xcb plugin's system libraries are missing, Qt prints a generic message that names
``libxcb-cursor0`` (often installed) and aborts the process, which Python cannot catch. So
before the first QApplication, on Linux with X11, we try to load each library the plugin
links to and name the Debian/Ubuntu packages of the missing ones.
"""

from __future__ import annotations

import ctypes
import os
import sys

XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
"""What PySide6 6.10's ``libqxcb.so`` and ``libQt6XcbQpa.so.6`` link to, by Debian package."""

APT_LINE = "sudo apt-get install " + " ".join(sorted(set(XCB_LIBRARIES.values())))
OPTIONS = ("or choose another platform with QT_QPA_PLATFORM=wayland, "
           "or QT_QPA_PLATFORM=offscreen for no window (screenshots, tests)")


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_xcb_packages() -> list[str]:
    """Debian packages whose libraries the xcb plugin needs and the loader cannot find."""
    return sorted({pkg for lib, pkg in XCB_LIBRARIES.items() if not _loads(lib)})


def uses_xcb(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether Qt would try the xcb plugin first with this environment (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip().lower()
    if chosen:
        return chosen == "xcb"
    wayland = env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    return not wayland


def platform_problem(env: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """One line saying why the window cannot open, or None when Qt should start."""
    if not uses_xcb(env):
        return None
    if not env.get("DISPLAY"):
        if env.get("WAYLAND_DISPLAY"):
            return f"no X display (DISPLAY is unset); {OPTIONS}"
        return ("no display to open the window on (DISPLAY is unset): run it inside a desktop "
                f"session or under Xvfb, {OPTIONS}")
    missing = missing_xcb_packages()
    if not missing:
        return None
    return (f"Qt's xcb platform plugin cannot load: missing {', '.join(missing)}. "
            f"On Debian/Ubuntu: sudo apt-get install {' '.join(missing)}; {OPTIONS}")
