"""Environment variables for steps: --env and --env-file, the platform's rules."""

from __future__ import annotations

import pytest

import pdee
from pdee.errors import UsageError
from pdee.plan.environment import build_env


def test_pairs_and_file_merge_with_pairs_winning(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# secrets\nAPI_KEY=from-file\nexport REGION=\"eu west\"\nEMPTY=\nQUOTED='a=b'\n"
    )
    env = build_env(["API_KEY=s3cret", "_UNDER=1"], env_file)
    assert env == {
        "API_KEY": "s3cret",
        "REGION": "eu west",
        "EMPTY": "",
        "QUOTED": "a=b",
        "_UNDER": "1",
    }
    assert build_env({"A": "1"}, None) == {"A": "1"}
    assert build_env(None, None) == {}


@pytest.mark.parametrize(
    ("pairs", "text", "message"),
    [
        (["NOEQUALS"], None, "an item has no '='; write each as KEY=VALUE"),
        (["1ABC=x"], None, "'1ABC' is not a valid variable name"),
        (["MY-KEY=x"], None, "'MY-KEY' is not a valid variable name"),
        (["PIPEDREAM_TOKEN=x"], None, "starts with PIPEDREAM_, which the platform keeps"),
        (["BIG=" + "x" * (64 * 1024 + 1)], None, "the value of BIG is over the platform's 64KB"),
        ([], "A=1\nthis is not a binding\n", r"line 2: 'this is not a binding' is not KEY=VALUE"),
        ([], "A=1\nLONELY\n", "line 2: LONELY has no value; write LONELY=VALUE"),
        ([], "pipedream_x=1\n", "starts with PIPEDREAM_"),
    ],
)
def test_rules_are_usage_errors_without_the_value(tmp_path, pairs, text, message):
    env_file = None
    if text is not None:
        env_file = tmp_path / ".env"
        env_file.write_text(text)
    with pytest.raises(UsageError, match=message) as caught:
        build_env(pairs, env_file)
    assert "xxxx" not in str(caught.value)


def test_a_missing_env_file_says_so(tmp_path):
    with pytest.raises(UsageError, match=r"env file .* does not exist"):
        build_env([], tmp_path / "nope.env")


def test_the_plan_holds_the_env_but_its_repr_does_not(tmp_path):
    step = tmp_path / "s.py"
    step.write_text("def handler(pd):\n    pass\n")
    plan = pdee.build_plan([step], env=["API_KEY=s3cret"])
    assert plan.env == {"API_KEY": "s3cret"}
    assert "s3cret" not in repr(plan)
