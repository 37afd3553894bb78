"""The torch backend: a Hugging Face causal LM plus transcoders as a replacement model, its
interventions and attribution (tracing), transcoder and model loading, and the engine's
``.pt`` writer.

Nothing is imported here, so ``import circuitdesk.models.torch`` stays cheap; open the
backend through :func:`circuitdesk.models.registry.open_backend`.
"""

__all__: list[str] = []
