"""Device and dtype choosers for the local model (verify panel), over :mod:`models.devices`.

The widget holds no state of its own: it lists what it was told is available and says what the
user picked. The window remembers the choice (QSettings) and reloads the model on its model
queue. Until torch has been asked (off the GUI thread), only ``cpu`` is listed.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from ...models.devices import resolve, supported_dtypes


class DeviceChooser(QWidget):
    """Two combo boxes. Signals: ``changed(device, dtype)`` on a user's pick only."""

    changed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.available: list[str] = ["cpu"]
        self.dtypes: dict[str, list[str]] = {"cpu": supported_dtypes("cpu")}
        # What was asked for (None: the best device, its default), shown again once the
        # machine's devices are known: "cuda" remembered must not stay "cpu" for good.
        self.wanted: tuple[str | None, str | None] = (None, None)
        self.device = QComboBox()
        self.device.setToolTip("Where the model runs (only devices torch reports are listed)")
        self.dtype = QComboBox()
        self.dtype.setToolTip("Compute dtype of the model and encoders (the device's default "
                              "first); decoders stay mapped from disk")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("Device"), self.device, QLabel("dtype"), self.dtype):
            layout.addWidget(w)
        self._fill(self.device, self.available, "cpu")
        self._fill(self.dtype, self.dtypes["cpu"], self.dtypes["cpu"][0])
        self.device.currentTextChanged.connect(self._device_picked)
        self.dtype.currentTextChanged.connect(self._dtype_picked)

    @staticmethod
    def _fill(box: QComboBox, items: list[str], current: str) -> None:
        box.blockSignals(True)  # a refill is not a user's pick
        try:
            box.clear()
            box.addItems(items)
            box.setCurrentText(current)
        finally:
            box.blockSignals(False)

    def set_available(self, devices: list[str], dtypes: dict[str, list[str]]) -> None:
        """What this machine has (from :func:`models.devices.available_devices`)."""
        self.available = list(devices)
        self.dtypes = {d: list(dtypes[d]) for d in devices}
        self._show(*self.wanted)

    def set_choice(self, device: str | None, dtype: str | None) -> None:
        """Show a remembered choice, made runnable here (no ``changed`` signal)."""
        self.wanted = (device, dtype)
        self._show(device, dtype)

    def _show(self, device: str | None, dtype: str | None) -> None:
        device, dtype = resolve(device, dtype, self.available)
        names = self.dtypes.get(device) or supported_dtypes(device)
        dtype = dtype if dtype in names else names[0]
        self._fill(self.device, self.available, device)
        self._fill(self.dtype, names, dtype)

    def choice(self) -> tuple[str, str]:
        return self.device.currentText(), self.dtype.currentText()

    def _device_picked(self, device: str) -> None:
        if not device:
            return
        names = self.dtypes.get(device) or supported_dtypes(device)
        self._fill(self.dtype, names, names[0])  # the new device's default
        self._picked()

    def _dtype_picked(self, dtype: str) -> None:
        if dtype:
            self._picked()

    def _picked(self) -> None:
        self.wanted = self.choice()
        self.changed.emit(*self.wanted)
