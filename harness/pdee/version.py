"""pdee's version (a module of its own, so that any part can import it without
importing the package's public face, which imports them all). The package's metadata
takes it from here (pyproject.toml), so reading it costs no importlib.metadata at start.
"""

__version__ = "0.3.0"
