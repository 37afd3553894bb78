"""The main window's link to the local model: find it for the open graph, open it once.

A mixin of :class:`~circuitdesk.app.window.MainWindow`. Folders the user picks are
remembered per model (QSettings ``models``), the device and dtype once for all models
(``model_device``, ``model_dtype``); opening runs on the task runner's one-thread model queue
and opened backends are cached per folders, device and dtype. Which devices this machine has
is asked of torch on that queue too, the first time the verify panel shows or a model opens.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFileDialog

from . import long_lived


class ModelBinding:
    """Needs ``doc``, ``settings``, ``runner``, ``verify_panel``, ``backends``, ``_bound``
    and ``show_error`` from the window."""

    doc: Any
    settings: Any
    runner: Any
    verify_panel: Any
    bound_model_dir: str | None
    bound_transcoders_dir: str | None
    backends: dict[tuple[str, ...], Any]
    _bound: tuple[int, Any, list[int]] | None
    _devices_probed: bool = False

    def show_error(self, title: str, message: str, details: str = "") -> None:
        raise NotImplementedError


    def remembered_models(self) -> dict[str, tuple[str, str]]:
        value = self.settings.value("models")
        return {str(k): (str(v[0]), str(v[1])) for k, v in (value or {}).items()
                if isinstance(v, (list, tuple)) and len(v) == 2}

    def remembered_dashboards(self) -> dict[str, str]:
        """Dashboards files chosen per model (graph key → path)."""
        value = self.settings.value("dashboards")
        return {str(k): str(v) for k, v in (value or {}).items()} if isinstance(value, dict) else {}

    def remember_dashboards(self, key: str, path: str) -> None:
        dbs = self.remembered_dashboards()
        dbs[key] = path
        self.settings.setValue("dashboards", dbs)

    def label_store_path(self) -> str:
        """The imported-labels store (setting ``label_store``, else the user's data folder)."""
        from ..graph.io.labels import default_label_store

        return str(self.settings.value("label_store") or default_label_store())

    def remember_model(self, key: str, model_dir: str, transcoders_dir: str) -> None:
        models = self.remembered_models()
        models[key] = (model_dir, transcoders_dir)
        self.settings.setValue("models", {k: list(v) for k, v in models.items()})

    # ------------------------------------------------------------------ device and dtype

    def model_device(self) -> tuple[str | None, str | None]:
        """The remembered ``(device, dtype)`` (None: the best device, its default dtype)."""
        dev, dt = self.settings.value("model_device"), self.settings.value("model_dtype")
        return (str(dev) if dev else None), (str(dt) if dt else None)

    def init_device_choice(self) -> None:
        """Show the remembered choice and react to the user's picks (called once by the window)."""
        chooser = self.verify_panel.device_chooser
        chooser.set_choice(*self.model_device())
        chooser.changed.connect(self.set_model_device)

    def probe_devices(self) -> None:
        """Ask torch, once and off the GUI thread, which devices and dtypes this machine has."""
        if self._devices_probed:
            return
        self._devices_probed = True

        def work(**_: Any) -> tuple[list[str], dict[str, list[str]]]:
            from ..models import devices

            found = devices.available_devices()
            dtypes = {d: devices.supported_dtypes(d, probe=True) for d in found}
            long_lived.freeze()  # torch is imported now (the collector's passes went 25 → 250 ms)
            return found, dtypes

        def done(result: tuple[list[str], dict[str, list[str]]]) -> None:
            self.verify_panel.device_chooser.set_available(*result)

        self.runner.submit("model-devices", work, queue="model", on_done=done)

    def set_model_device(self, device: str, dtype: str) -> None:
        """Remember the user's pick; a model already open is closed and opened again with it."""
        self.settings.setValue("model_device", device)
        self.settings.setValue("model_dtype", dtype)
        old = list(self.backends.values())
        was_bound = self._bound is not None
        self.backends.clear()
        self._bound = None
        if old:
            def close(**_: Any) -> None:  # after any job still using them (one-thread queue)
                for backend in old:
                    backend.close()

            self.runner.submit("model-close", close, queue="model")
        if was_bound and self.doc is not None:
            self.with_backend(lambda *_: None)

    # ------------------------------------------------------------------ folders

    def choose_model(self) -> None:
        """Ask once for the model and transcoder folders of this graph's model; remembered."""
        from ..models.locate import graph_key

        if self.doc is None:
            return
        model = QFileDialog.getExistingDirectory(self, "Hugging Face model folder")
        if not model:
            return
        tcs = QFileDialog.getExistingDirectory(self, "Transcoder folder (config.yaml)")
        if tcs:
            self.remember_model(graph_key(self.doc.graph), model, tcs)
            self._bound = None

    def with_backend(self, then: Any, failed: Any = None) -> None:
        """Call ``then(backend, input_ids)`` on the GUI thread once this graph's model is open;
        ``failed(reason)`` (default: the verify panel's) when it cannot be opened."""
        not_run = failed or self.verify_panel.not_run
        from ..models.locate import find_model
        from ..models.protocol import ModelLoadError

        doc = self.doc
        if doc is None:
            return
        graph = doc.graph
        if self._bound is not None and self._bound[0] == id(graph):
            then(self._bound[1], self._bound[2])
            return
        try:
            model_dir, tc_dir = find_model(graph, self.remembered_models())
        except ModelLoadError as exc:
            self.show_error("No model for this graph", str(exc))
            not_run(f"Not run: {exc}")
            return
        self.probe_devices()  # queued first: the chooser learns the devices before the model
        want = self.model_device()
        key = (str(model_dir), str(tc_dir), *(w or "" for w in want))
        cached = self.backends.get(key)

        def work(*, progress: Any, cancel: Any) -> tuple[Any, list[int], tuple[str, str]]:
            from ..models.binding import graph_input_ids
            from ..models.devices import resolve
            from ..models.registry import open_backend

            device, dtype = resolve(*want)  # a setting from another machine: what runs here
            backend = cached or open_backend(None, model_dir=model_dir, transcoders_dir=tc_dir,
                                             device=device, dtype=dtype,
                                             progress=progress, cancel=cancel)
            long_lived.freeze()  # the model stack's modules and the open model stay for good
            return backend, graph_input_ids(backend, graph), (device, dtype)

        def bound(result: tuple[Any, list[int], tuple[str, str]]) -> None:
            backend, ids, (device, dtype) = result
            self.backends[key] = backend
            if self.doc is not None and self.doc.graph is graph:
                self._bound = (id(graph), backend, ids)
                self.bound_model_dir, self.bound_transcoders_dir = str(model_dir), str(tc_dir)
                self.verify_panel.model_label.setText(
                    f"Model: {model_dir} · transcoders: {tc_dir} · backend {backend.name} "
                    f"on {device}, {dtype}")
                then(backend, ids)

        def failed(exc: BaseException) -> None:
            self.verify_panel.model_label.setText(f"Model: {exc}")
            not_run(f"Not run: the model could not be opened ({exc})")

        self.verify_panel.model_label.setText(f"Loading model from {model_dir}…")
        self.runner.submit("model-open", work, queue="model", on_done=bound, on_error=failed)
