"""The ``pdee`` command line (``commands``: the Typer app; a module per command group)."""

from .commands import app, main

__all__ = ["app", "main"]
