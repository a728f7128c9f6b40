"""Who owns an EE, so that ``pdee gc`` removes only what nobody is using. Pure, but for
reading ``/proc``.

Every EE carries its run's id and its owner: the host name and pid of the pdee process
that made it, that process's start time (so a reused pid is not taken for the owner),
and when the EE was made. An EE is *abandoned* when its owner on this host is gone,
or when it is older than a day (the only test for EEs made from another host, e.g.
CI jobs sharing one remote daemon). EEs from a pdee that did not label owners are
abandoned too.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

LABEL_HOST = "pdee.owner.host"
LABEL_PID = "pdee.owner.pid"
LABEL_PROCESS_START = "pdee.owner.start"
LABEL_CREATED = "pdee.created"
STALE_AFTER_S = 24 * 3600.0


def process_start(pid: int, proc: str = "/proc") -> str | None:
    """When process ``pid`` started (clock ticks after boot, as text); None if it is gone.

    "" where there is no ``/proc`` to tell (the pid exists, its start is unknown).
    """
    try:
        with open(f"{proc}/{pid}/stat") as stat:
            text = stat.read()
    except FileNotFoundError:
        if os.path.isdir(proc):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    except OSError:
        return ""
    # Field 22, counted after the name, which may hold spaces and parentheses.
    return text[text.rindex(")") + 2 :].split()[19]


@dataclass(frozen=True)
class Owner:
    """The pdee process that makes a run's EEs."""

    host: str
    pid: int
    process_start: str

    @classmethod
    def this_process(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid) or "")

    def labels(self, now: float) -> dict[str, str]:
        """The labels an EE made now by this owner carries."""
        return {
            LABEL_HOST: self.host,
            LABEL_PID: str(self.pid),
            LABEL_PROCESS_START: self.process_start,
            LABEL_CREATED: f"{now:.0f}",
        }


def abandoned(
    labels: Mapping[str, str],
    now: float,
    host: str,
    start_of: Callable[[int], str | None] = process_start,
) -> bool:
    """Whether the EE with ``labels`` has no live owner, seen from ``host`` at ``now``."""
    try:
        created = float(labels[LABEL_CREATED])
        pid = int(labels[LABEL_PID])
        owner_host = labels[LABEL_HOST]
    except (KeyError, ValueError):
        return True  # made by a pdee that did not say who owned it
    if now - created > STALE_AFTER_S:
        return True
    if owner_host != host:
        return False  # its owner's liveness cannot be seen from here
    started = start_of(pid)
    if started is None:
        return True
    recorded = labels.get(LABEL_PROCESS_START, "")
    return bool(started and recorded and started != recorded)  # the pid was reused
