"""Who owns an EE, so that ``pdee gc`` removes only what nobody is using. Pure, but for
reading ``/proc`` and ``PDEE_LABELS``.

Every EE carries its run's id and its owner: the host name and pid of the pdee process
that made it, that process's start time (so a reused pid is not taken for the owner),
and when the EE was made. An EE is *abandoned* when its owner on this host is gone,
or when it is older than a day (the only test for EEs made from another host, e.g.
CI jobs sharing one remote daemon). EEs from a pdee that did not label owners are
abandoned too.

Users add labels of their own with ``PDEE_LABELS=KEY=VALUE,KEY=VALUE`` (e.g. a CI job
tags its EEs, a test session its own); ``pdee gc --label KEY=VALUE`` then looks only at
the containers that carry them.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..errors import UsageError
from . import LABEL_RUN

LABEL_HOST = "pdee.owner.host"
LABEL_PID = "pdee.owner.pid"
LABEL_PROCESS_START = "pdee.owner.start"
LABEL_CREATED = "pdee.created"
STALE_AFTER_S = 24 * 3600.0
ENV_LABELS = "PDEE_LABELS"
# The labels pdee writes itself: a user's label may not take their place.
RESERVED = frozenset({LABEL_RUN, LABEL_HOST, LABEL_PID, LABEL_PROCESS_START, LABEL_CREATED})
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


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


def parse_labels(items: Iterable[str], source: str) -> dict[str, str]:
    """The labels ``KEY=VALUE`` in ``items``, each of which may hold several, split by commas.

    Args:
        items: texts such as ``"ci.job=1234,team=data"``; empty parts are skipped.
        source: where they came from, for messages (``PDEE_LABELS``, ``--label``).

    Raises:
        UsageError: a part is not ``KEY=VALUE``, a key is not a label key, a key is one
            pdee sets itself, or a key is given twice with two values.
    """
    example = f"{source}=ci.job=1234,team=data" if source == ENV_LABELS else f"{source} ci.job=1234"
    labels: dict[str, str] = {}
    for part in (p.strip() for item in items for p in item.split(",")):
        if not part:
            continue
        key, equals, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key or not value:
            raise UsageError(f"{source}: {part!r} is not KEY=VALUE; write e.g. {example}")
        if not _KEY.fullmatch(key):
            raise UsageError(
                f"{source}: {key!r} is not a label key: use letters, digits, '.', '_', '-' "
                f"and '/', starting with a letter or digit; write e.g. {example}"
            )
        if not value.isprintable():
            raise UsageError(f"{source}: the value of {key} holds a control character; remove it")
        if key in RESERVED:
            raise UsageError(f"{source}: pdee sets the label {key} itself; choose another key")
        if labels.get(key, value) != value:
            raise UsageError(
                f"{source} gives the label {key} twice ({labels[key]!r} and {value!r}); "
                "give each key once"
            )
        labels[key] = value
    return labels


def labels_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels ``PDEE_LABELS`` asks pdee to put on every container it makes.

    Raises:
        UsageError: ``PDEE_LABELS`` is not ``KEY=VALUE,KEY=VALUE``.
    """
    text = (os.environ if environ is None else environ).get(ENV_LABELS, "")
    return parse_labels([text], ENV_LABELS)


def selector(wanted: Mapping[str, str]) -> list[str]:
    """Docker's label filters for the pdee containers that carry every label of ``wanted``
    (the daemon ANDs them)."""
    return [LABEL_RUN, *(f"{key}={value}" for key, value in wanted.items())]


def carries(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether a container's ``labels`` hold every label of ``wanted``, with its value."""
    return all(labels.get(key) == value for key, value in wanted.items())
