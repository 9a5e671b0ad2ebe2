"""The engine's helpers. Nothing here imports torch at module level, so the command line
answers ``--help`` and config errors without paying for it."""
