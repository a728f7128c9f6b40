"""``pdee check PROJECT --shard K/N``: which of a project's workflows one CI job checks.
Pure: no files, no Docker.

A CI matrix runs N jobs of the same commit, each with its own ``--shard K/N``; together
they check the whole project, each workflow exactly once. The split is by workflow id
(the ``p_...`` of GitHub Sync; a workflow without one by its folder, relative to the
project): the ids in order, cut into N runs of consecutive ids whose sizes differ by at
most one (as Playwright's and Jest's ``--shard`` cut their sorted test files). It is
stable: the same project and N give every machine the same parts, whatever order the
file system lists the folders in. A workflow added or removed may move others to a
neighbouring part; every job of one commit sees the same project, so no workflow is
missed or checked twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import UsageError

SHAPE = re.compile(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*")
USAGE = "give K/N, this job's part K of N parts, 1 <= K <= N (e.g. --shard 2/4)"


@dataclass(frozen=True)
class Shard:
    """Part ``k`` (from 1) of ``n``."""

    k: int
    n: int

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise UsageError(f"--shard {self}: {USAGE}")

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` as a shard.

        Raises:
            UsageError: it is not one (not two whole numbers, K outside 1 to N).
        """
        found = SHAPE.fullmatch(text)
        if found is None:
            raise UsageError(f"--shard {text}: {USAGE}")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, value: Shard | str) -> Shard:
        """``value`` as a shard (the API takes a ``Shard`` or its text).

        Raises:
            UsageError: it is none.
        """
        if isinstance(value, Shard):
            return value
        if not isinstance(value, str):
            raise UsageError(f"shard={value!r}: {USAGE}")
        return cls.parse(value)

    def pick(self, ids: Sequence[str]) -> list[int]:
        """The positions in ``ids`` (workflow ids, in the project's order) of this part's
        workflows, in that order."""
        parts = assign(ids, self.n)
        return [at for at, part in enumerate(parts) if part == self.k]


def assign(ids: Sequence[str], n: int) -> list[int]:
    """The part, 1 to ``n``, of each of ``ids``: the ids in order (equal ones in their
    given order), cut into ``n`` consecutive runs whose sizes differ by at most one."""
    order = sorted(range(len(ids)), key=lambda at: (ids[at], at))
    parts = [0] * len(ids)
    for rank, at in enumerate(order):
        parts[at] = rank * n // len(ids) + 1  # run k holds ranks [(k-1)*len/n, k*len/n)
    return parts


__all__ = ["Shard", "assign"]
