"""The ONNX path: export a replacement model to one ``.onnx`` file (needs torch), and the
onnxruntime backend that runs interventions from that file without torch.

Nothing is imported here; open the backend through
:func:`circuitdesk.models.registry.open_backend`.
"""

__all__: list[str] = []
