"""Issue 32's first hour, the rough edges that need a real EE: a step's KeyError on a
``pd.inputs`` key the run does not give, as the runtime's real traceback shows it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

COUNTER = """
def handler(pd: "pipedream"):
    store = pd.inputs["data_store"]
    store["n"] = store.get("n", 0) + 1
    return store["n"]
"""


def test_a_missing_data_store_prop_gets_a_hint_beside_its_traceback(pdee, write_step):
    step = write_step("counter", COUNTER)
    outcome = pdee("run", step, "--events", "3", "--mode", "warm", "--network", "none")
    assert outcome.exit_code == 1
    assert [e["error"]["type"] for e in outcome.executions] == ["KeyError"] * 3
    hint = (
        "note: step 'counter' read pd.inputs['data_store'], which this run does not give: "
        "`--data-store data_store` makes it a data store"
    )
    assert outcome.stdout.count(hint) == 1  # once, not once an execution
    assert outcome.stdout.count('store = pd.inputs["data_store"]') == 1  # the traceback, grouped
    assert "× 3 executions failed with this error: #0-2" in outcome.stdout  # noqa: RUF001
    assert hint[len("note: ") :] in outcome.executions[0]["notes"][0]
    # As the hint says.
    given = pdee("run", step, "--events", "3", "--mode", "warm", "--network", "none",
                 "--data-store", "data_store")  # fmt: skip
    assert given.exit_code == 0, given.stdout
    assert [e["steps"]["counter"]["return_value"] for e in given.executions] == [1, 2, 3]
