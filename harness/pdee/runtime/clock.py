"""The step's wall clock on the run's virtual clock (issue 29; docs/research/issue-29-clock.md).

A step's process calls ``install()`` once, before the step's code is imported, and
``set_offset(seconds)`` before each execution: the execution's virtual start (its
``clock_ts``) minus the real wall clock when the supervisor received it. From then on
what the step reads as wall-clock time is the real clock plus the offset, so it moves
in real time from the execution's virtual instant:

- ``time.time``, ``time.time_ns``, ``time.clock_gettime(_ns)(CLOCK_REALTIME)``,
  ``time.localtime()``, ``time.gmtime()``, ``time.strftime(fmt)``,
  ``datetime.datetime.now/utcnow/today``, ``datetime.date.today`` are time-machine's:
  its C extension (vendored in the image at ``/opt/pdee/vendor``, outside /tmp and the
  step's packages) swaps the C functions behind them in place, so names bound before
  (``from time import time``), subclasses (pandas' ``Timestamp.now``, pendulum, arrow)
  and C callers of those methods are reached, and ``datetime.datetime`` stays the real
  class (isinstance, pickling, C extensions' type checks unchanged);
- ``time.ctime()`` and ``time.asctime()`` (which time-machine leaves alone) and
  ``uuid.uuid1`` (its C generator is turned off, as time-machine does) here.

time-machine's C functions ask ``sys.modules["time_machine"].traveller_stack[-1]
.time_ns()`` on every call; the module registered under that name is this runtime's
own small one, so that its Python package (typing, unittest, inspect, zoneinfo: about
70 ms at every step process's start) is never imported. That is a private contract of
time-machine's C extension: the version is pinned (``images/ee/runtime-requirements.txt``)
and a test holds it.

Monotonic clocks (``monotonic``, ``perf_counter``, ``process_time``) and every timeout
(sleep, waits, select, subprocess, asyncio) stay real: nothing of theirs is touched.

Not reached: processes the step starts; C code that reads the clock itself (libc
``time()``/``clock_gettime``: numpy's ``datetime64('now')``, SQLite's ``'now'``,
OpenSSL, which keeps checking certificates against the real time); file times
(``os.stat``: real).

Without the vendored extension (an image built without it) ``install()`` falls back to
patching the ``time`` functions only (``datetime.now()`` stays real) and says so.
"""

from __future__ import annotations

import sys
import time as _time

TYPE_CHECKING = False  # typing is not imported at run time: a step's process starts faster
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

VENDOR = "/opt/pdee/vendor"

_offset_ns = 0
_offset = 0.0
_real_time_ns = _time.time_ns
_real_time = _time.time
mechanism = "off"


class _Clock:
    """What time-machine's patched functions ask the time of: the real clock plus the
    offset (``traveller_stack[-1].time_ns()``)."""

    __slots__ = ()

    def time_ns(self) -> int:
        return _real_time_ns() + _offset_ns


def _not_time_machine(name: str) -> object:
    """A step's own ``import time_machine`` finds this runtime's clock under that name."""
    raise AttributeError(
        f"time_machine.{name}: in a pdee EE the name time_machine is pdee's virtual clock "
        f"(the step's wall clock already follows the run's virtual time)"
    )


def set_offset(seconds: float) -> None:
    """Set the step's wall clock to the real one plus ``seconds``."""
    global _offset, _offset_ns
    if seconds < _offset:  # back in time: uuid1() would not go below its last stamp
        uuid = sys.modules.get("uuid")
        if uuid is not None:
            uuid._last_timestamp = None  # type: ignore[attr-defined]
    _offset = seconds
    _offset_ns = round(seconds * 1_000_000_000)


def _extension() -> Any:
    """time-machine's C extension from ``VENDOR`` (on ``sys.path`` only meanwhile), or None."""
    sys.path.insert(0, VENDOR)
    try:
        import _time_machine  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    finally:
        sys.path.remove(VENDOR)
    return _time_machine


def probe() -> str:
    """The mechanism ``install()`` would use here, without installing it: ``time-machine
    <version>``, or ``time-only`` (the extension is missing or does not load: the fallback)."""
    if _extension() is None:
        return "time-only"
    import os

    try:
        found = [n for n in os.listdir(VENDOR) if n.startswith("time_machine-")]
    except OSError:
        found = []
    version = found[0].removeprefix("time_machine-").removesuffix(".dist-info") if found else ""
    return f"time-machine {version}".strip()


def install() -> str:
    """Put this process's wall clock under ``set_offset``; the mechanism's name."""
    global mechanism, _real_time_ns
    _time_machine = _extension()
    if _time_machine is not None:
        import importlib.machinery
        import types

        shim = types.ModuleType("time_machine", "pdee's clock, read by time-machine's C functions")
        # PyImport_GetModule looks at __spec__._initializing on every clock read: without
        # it each read raises and clears an AttributeError (twice the cost).
        shim.__spec__ = importlib.machinery.ModuleSpec("time_machine", None)
        shim.__spec__._initializing = False  # type: ignore[attr-defined]
        shim._time_machine = _time_machine  # type: ignore[attr-defined]
        shim.traveller_stack = [_Clock()]  # type: ignore[attr-defined]
        shim.__getattr__ = _not_time_machine  # type: ignore[method-assign,unused-ignore]
        sys.modules["time_machine"] = shim
        _time_machine.patch()
        _real_time_ns = _time_machine.original_time_ns
        mechanism = "time-machine"
    else:
        for name in ("time", "time_ns", "localtime", "gmtime", "strftime"):
            setattr(_time, name, _FALLBACK[name])
        mechanism = "time-only"
    setattr(_time, "ctime", _ctime)  # noqa: B010 (mypy: a module's function)
    setattr(_time, "asctime", _asctime)  # noqa: B010
    uuid = sys.modules.get("uuid")
    if uuid is not None:
        _patch_uuid(uuid)
    else:
        sys.meta_path.insert(0, _UuidHook())
    return mechanism


_real_ctime, _real_asctime = _time.ctime, _time.asctime
_real_localtime, _real_gmtime, _real_strftime = _time.localtime, _time.gmtime, _time.strftime


def _ctime(secs: float | None = None) -> str:
    return _real_ctime(_time.time() if secs is None else secs)


def _asctime(t: Any = None) -> str:
    return _real_asctime(_time.localtime() if t is None else t)


def _f_time() -> float:
    return _real_time() + _offset


def _f_time_ns() -> int:
    return _real_time_ns() + _offset_ns


def _f_localtime(secs: float | None = None) -> _time.struct_time:
    return _real_localtime(_real_time() + _offset if secs is None else secs)


def _f_gmtime(secs: float | None = None) -> _time.struct_time:
    return _real_gmtime(_real_time() + _offset if secs is None else secs)


def _f_strftime(format: str, t: Any = None) -> str:
    return _real_strftime(format, _f_localtime() if t is None else t)


_FALLBACK = {
    "time": _f_time,
    "time_ns": _f_time_ns,
    "localtime": _f_localtime,
    "gmtime": _f_gmtime,
    "strftime": _f_strftime,
}


def _patch_uuid(uuid: Any) -> None:
    # uuid1() asks libuuid (C, the real clock) when it can: make it read time.time_ns.
    uuid._generate_time_safe = None
    uuid._UuidCreate = None


class _UuidHook:
    """Patches ``uuid`` right after the step first imports it (a name compared per
    import until then)."""

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != "uuid":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def exec_and_patch(module: ModuleType) -> None:
                exec_module(module)
                _patch_uuid(module)

            spec.loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec
