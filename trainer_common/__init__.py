"""Code shared by the task packages: argument parsing, the multi-loss Trainer, plots, safe writes, tracking.

Kept import-light: each submodule imports torch, transformers or matplotlib only where it needs them.
"""
