"""One module per ``zhida`` command group; each exposes ``register(group)``."""
