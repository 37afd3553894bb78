"""Building the bundled demo: its corpus, the tiny Llama, its transcoders, the graphs traced
from them and the demo folder's README. Used only by the demo commands and the tests;
nothing else imports this room (an import-linter contract checks it).
"""

__all__: list[str] = []
