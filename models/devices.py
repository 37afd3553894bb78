"""Where a model runs and in which dtype: the one table the CLI, the backends and the app share.

torch is imported only by the functions that ask it what this machine has
(:func:`available_devices`, :func:`supported_dtypes` with ``probe=True``), so importing this
module costs nothing and the app can build its choosers before torch is loaded.
"""

from __future__ import annotations

import importlib.util
from typing import Any

DEVICE_KINDS = ("cpu", "cuda", "mps")
"""Device kinds a backend may run on, in the order the app lists them."""

DTYPES = ("float32", "bfloat16", "float16", "float64")
"""Compute dtypes by name (float64 for exact checks on the CPU only)."""

DEVICE_DTYPES = {
    "cpu": ("float32", "bfloat16", "float16", "float64"),
    "cuda": ("bfloat16", "float16", "float32"),
    "mps": ("float16", "float32"),
}
"""What each device kind can compute in, default first (MPS has no float64). The defaults:
CPUs are fast and exact in float32; GPUs hold the public models only in half precision
(circuit-tracer's own default on CUDA is bfloat16, and MPS has no fast bfloat16 on every
macOS)."""

DEFAULT_DTYPES = {kind: names[0] for kind, names in DEVICE_DTYPES.items()}
"""The compute dtype when none is given (the first of :data:`DEVICE_DTYPES`)."""

AUTO = "auto"


def device_kind(device: str) -> str:
    """``cuda:1`` → ``cuda``."""
    return device.split(":")[0]


def _torch() -> Any:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def _mps_available(torch: Any) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """Device kinds this machine's torch can reach, best first (``cpu`` always, last).

    Imports torch (seconds the first time): call it off the GUI thread.
    """
    torch = _torch()
    found = []
    if torch is not None and torch.cuda.is_available():
        found.append("cuda")
    if torch is not None and _mps_available(torch):
        found.append("mps")
    return [*found, "cpu"]


def best_device() -> str:
    """The first of cuda, mps and cpu that torch reports available."""
    return available_devices()[0]


def supported_dtypes(device: str, *, probe: bool = False) -> list[str]:
    """Dtypes ``device`` computes in, its default first.

    Args:
        device: ``cpu``, ``cuda[:N]`` or ``mps``.
        probe: Also ask torch (CUDA GPUs before Ampere have no bfloat16).

    Raises:
        ValueError: An unknown device kind.
    """
    kind = device_kind(device)
    if kind not in DEVICE_DTYPES:
        raise ValueError(f"device {device!r} is not cpu, cuda[:N] or mps")
    names = list(DEVICE_DTYPES[kind])
    if probe and kind == "cuda":
        torch = _torch()
        if torch is not None and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
            names = ["float16", "float32"]
    return names


def default_dtype(device: str) -> str:
    """The device kind's default compute dtype (:data:`DEFAULT_DTYPES`).

    Raises:
        ValueError: An unknown device kind.
    """
    return supported_dtypes(device)[0]


def resolve(device: str | None, dtype: str | None,
            available: list[str] | None = None) -> tuple[str, str]:
    """A remembered preference made runnable here: ``(device, dtype)``.

    A device this machine lacks (a setting carried from another machine) falls back to the
    best available one; a dtype the device cannot compute in falls back to its default.

    Args:
        device: ``cpu``, ``cuda[:N]``, ``mps``, ``auto`` or None (the best one here).
        dtype: A name in :data:`DTYPES` or None (the device's default).
        available: Device kinds to choose from (default: :func:`available_devices`).
    """
    here = available if available is not None else available_devices()
    if not device or device == AUTO or device_kind(device) not in here:
        device = here[0]
    names = supported_dtypes(device, probe=available is None)
    return device, dtype if dtype in names else names[0]
