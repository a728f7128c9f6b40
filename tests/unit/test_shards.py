"""``pdee check PROJECT --shard K/N``: the split of a project's workflows, pure; and the
one-line usage error of a bad K/N, without Docker."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from pdee.checking.shards import Shard, assign
from pdee.cli.commands import app
from pdee.errors import ExitCode, UsageError

IDS = st.lists(st.text(min_size=0, max_size=12), max_size=60)


@given(ids=IDS, n=st.integers(1, 70))
def test_the_parts_partition_any_ids_evenly(ids: list[str], n: int) -> None:
    picked = [at for k in range(1, n + 1) for at in Shard(k, n).pick(ids)]
    assert sorted(picked) == list(range(len(ids)))  # each workflow in exactly one part
    sizes = Counter(assign(ids, n))
    counts = [sizes.get(k, 0) for k in range(1, n + 1)]
    assert max(counts) - min(counts) <= 1  # balanced within one workflow
    assert set(sizes) <= set(range(1, n + 1))


@given(ids=st.lists(st.text(max_size=12), unique=True, max_size=40), n=st.integers(1, 9),
       data=st.data())  # fmt: skip
def test_a_workflows_part_does_not_depend_on_the_order_it_was_found_in(
    ids: list[str], n: int, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(ids))
    parts = dict(zip(ids, assign(ids, n), strict=True))
    assert dict(zip(shuffled, assign(shuffled, n), strict=True)) == parts


def test_the_split_follows_the_ids_order_in_consecutive_runs():
    ids = ["p_e", "p_a", "p_d", "p_b", "p_c"]
    assert assign(ids, 2) == [2, 1, 2, 1, 1]  # p_a p_b p_c | p_d p_e
    assert Shard(2, 2).pick(ids) == [0, 2] and Shard(1, 1).pick(ids) == list(range(5))
    assert [Shard(k, 7).pick(ids) for k in range(1, 8)].count([]) == 2  # more parts than ids


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2", "", "1.5/2"])
def test_a_bad_k_n_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="give K/N"):
        Shard.parse(text)


def test_shard_text_and_objects():
    assert Shard.parse(" 2 / 4 ") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
    assert Shard.of("1/3") == Shard(1, 3) and Shard.of(Shard(3, 3)) == Shard(3, 3)
    with pytest.raises(UsageError):
        Shard.of(2)  # type: ignore[arg-type]


def test_the_cli_says_a_bad_shard_in_one_line_before_anything_runs(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    result = CliRunner().invoke(app, ["check", str(project), "--shard", "3/2"])
    assert result.exit_code == ExitCode.USAGE, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: --shard 3/2: give K/N")
    step = tmp_path / "step.py"
    step.write_text("def handler(pd):\n    return 1\n")
    result = CliRunner().invoke(app, ["check", str(step), "--shard", "1/2"])
    assert result.exit_code == ExitCode.USAGE and "splits a project's workflows" in result.output
