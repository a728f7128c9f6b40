"""``python -m pdee``: the ``pdee`` command."""

from .entry import main

main()
