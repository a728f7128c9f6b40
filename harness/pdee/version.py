"""pdee's version, as installed (a module of its own, so that any part can import it
without importing the package's public face, which imports them all)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pdee")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
