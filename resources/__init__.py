"""Bundled resources, read through importlib.resources: the icon, the fallback sample graph
and the demo model, transcoders, ONNX exports and graphs (`demo/`)."""
