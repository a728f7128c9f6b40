"""Data stores against the real daemon and image: the platform's Store in a step, kept
on the host in SQLite, reached over the EE's own channel, on the virtual clock."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

PDEE = [sys.executable, "-m", "pdee"]

# Pipedream's own documentation example: a workflow counter.
COUNTER = """
def handler(pd: "pipedream"):
    data_store = pd.inputs["data_store"]
    if data_store.get("counter") == None:
        data_store["counter"] = 1
    else:
        count = data_store["counter"]
        data_store["counter"] = count + 1
    return data_store["counter"]
"""

METHODS = """
def handler(pd: "pipedream"):
    ds = pd.inputs["data_store"]
    out = {}
    ds["pokemon"] = {"name": "Charmander", "type": "fire"}
    ds["pokemon"]["name"] = "Bulbasaur"          # a copy: does not persist
    out["copy"] = ds["pokemon"]["name"]
    try:
        ds["missing"]
    except TypeError as exc:
        out["missing"] = type(exc).__name__
    out["get"] = [ds.get("missing"), ds.get("missing", "default")]
    out["in"] = ["pokemon" in ds, "missing" in ds]
    keys = ds.keys()
    out["keys_type"] = type(keys).__name__
    out["keys"] = list(keys)
    ds.set("short", 1, ttl=60)
    ds.set_ttl("short", ttl=None)
    out["items"] = dict(ds.items())
    del ds["short"]
    out["after_del"] = "short" in ds
    try:
        ds["bad"] = {1, 2}
    except TypeError as exc:
        out["not_json"] = "JSON" in str(exc)
    ds.clear()
    out["after_clear"] = list(ds.keys())
    return out
"""


def test_every_method_as_the_platforms_docs_say(pdee, write_step):
    outcome = pdee("run", write_step("methods", METHODS), "--data-store", "data_store")
    assert outcome.exit_code == 0, outcome.stderr
    (execution,) = outcome.executions
    assert execution["steps"]["methods"]["return_value"] == {
        "copy": "Charmander",
        "missing": "TypeError",
        "get": [None, "default"],
        "in": [True, False],
        "keys_type": "Keys",
        "keys": ["pokemon"],
        "items": {"pokemon": {"name": "Charmander", "type": "fire"}, "short": 1},
        "after_del": False,
        "not_json": True,
        "after_clear": [],
    }
    assert execution["stores"]["data_store"]["writes"] == 5  # set, set, set_ttl, del, clear


def test_keys_cannot_be_returned_as_on_the_platform(pdee, write_step):
    step = write_step("keys", 'def handler(pd):\n    return pd.inputs["data_store"].keys()\n')
    outcome = pdee("run", step, "--data-store", "data_store")
    assert outcome.exit_code == 1
    assert outcome.executions[0]["error"]["type"] == "TypeError"


def test_a_counter_over_cold_ees_and_two_runs_of_one_file(pdee, write_step, tmp_path):
    step, store = write_step("counter", COUNTER), tmp_path / "data.db"
    first = pdee("run", step, "--events", "3", "--mode", "cold", "--data-store",
                 f"data_store={store}")  # fmt: skip
    assert first.exit_code == 0, first.stderr
    assert [e["steps"]["counter"]["return_value"] for e in first.executions] == [1, 2, 3]
    assert len({e["ee"] for e in first.executions}) == 3  # three EEs, one store
    assert first.report["data_stores"]["data_store"]["records"]["counter"]["value"] == 3
    assert first.report["settings"]["data_stores"] == {"data_store": str(store)}
    again = pdee("run", step, "--events", "2", "--data-store", f"data_store={store}")
    assert [e["steps"]["counter"]["return_value"] for e in again.executions] == [4, 5]
    assert "data store data_store (" in again.stdout and "1 record at the end" in again.stdout
    shown = pdee("data-store", "show", store)
    assert json.loads(shown.stdout) == {"counter": {"value": 5, "expires_at": None}}


def test_without_a_path_each_run_starts_empty(pdee, write_step):
    step = write_step("counter", COUNTER)
    for _ in range(2):
        outcome = pdee("run", step, "--events", "2", "--data-store", "data_store")
        assert [e["steps"]["counter"]["return_value"] for e in outcome.executions] == [1, 2]


CACHE = """
def handler(pd):
    cache = pd.inputs["cache"]
    if "result" in cache:
        return "cached"
    cache.set("result", [1, 2, 3], ttl=2 * 3600 - 60)   # two events later, it is gone
    return "computed"
"""


def test_ttls_expire_on_the_virtual_clock(pdee, write_step):
    started = time.monotonic()
    outcome = pdee("run", write_step("cache", CACHE), "--events", "6", "--interval", "3600",
                   "--mode", "warm", "--data-store", "cache")  # fmt: skip
    assert time.monotonic() - started < 60  # five virtual hours, no real wait
    got = [e["steps"]["cache"]["return_value"] for e in outcome.executions]
    assert got == ["computed", "cached", "computed", "cached", "computed", "cached"]


TWO_STORES = """
def handler(pd):
    pd.inputs["seen"]["a"] = 1
    pd.inputs["cache"]["b"] = 2
    return [list(pd.inputs["seen"].keys()), list(pd.inputs["cache"].keys())]
"""


def test_two_stores_in_one_step_are_apart(pdee, write_step, tmp_path):
    outcome = pdee("run", write_step("two", TWO_STORES), "--data-store", "cache",
                   "--data-store", f"seen={tmp_path / 'seen.db'}")  # fmt: skip
    assert outcome.executions[0]["steps"]["two"]["return_value"] == [["a"], ["b"]]
    assert set(outcome.report["data_stores"]) == {"cache", "seen"}


APPEND = """
def handler(pd):
    index = pd.steps["trigger"]["event"]["body"]["index"]
    pd.inputs["data_store"][f"event-{index}"] = index
    return len(list(pd.inputs["data_store"].keys()))
"""


def test_concurrent_executions_on_one_store_all_succeed(pdee, write_step, tmp_path):
    outcome = pdee("run", write_step("append", APPEND), "--events", "12", "--concurrency", "4",
                   "--interval", "0", "--data-store", f"data_store={tmp_path / 'c.db'}")  # fmt: skip
    assert outcome.exit_code == 0, outcome.stderr
    assert len({e["ee"] for e in outcome.executions}) == 4
    assert len(outcome.report["data_stores"]["data_store"]["records"]) == 12


SLOW_WRITER = """
import time

def handler(pd):
    index = pd.steps["trigger"]["event"]["body"]["index"]
    pd.inputs["data_store"][f"event-{index}"] = index
    time.sleep(0.2)
    return index
"""


def test_kill_9_mid_run_keeps_every_record_written(write_step, tmp_path, session_label):
    store = tmp_path / "kept.db"
    process = subprocess.Popen(
        [*PDEE, "run", write_step("writer", SLOW_WRITER), "--events", "1000", "--mode", "warm",
         "--interval", "0", "--network", "none", "--data-store", f"data_store={store}", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if store.exists():
                with sqlite3.connect(store) as db:
                    if db.execute("SELECT count(*) FROM records").fetchone()[0] >= 5:
                        break
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        # its EE, left by kill -9 (and never another's: the daemon may be shared)
        subprocess.run([*PDEE, "gc", "--label", session_label], capture_output=True)
    with sqlite3.connect(store) as db:
        (integrity,) = db.execute("PRAGMA integrity_check").fetchone()
        keys = [row[0] for row in db.execute("SELECT key FROM records")]
    assert integrity == "ok" and len(keys) >= 5
    assert sorted(keys, key=lambda k: int(k.split("-")[1]))[:5] == [f"event-{i}" for i in range(5)]


def test_a_store_that_is_not_a_database_is_refused_before_any_ee(pdee, write_step, tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_text("hello" * 1000)
    outcome = pdee("run", write_step("counter", COUNTER), "--data-store", f"data_store={bad}")
    assert outcome.exit_code == 2
    assert (
        outcome.stderr.startswith("Error: data store 'data_store'")
        and "cannot be used" in outcome.stderr
    )


def test_a_prop_given_twice_or_by_inputs_is_refused(pdee, write_step, tmp_path):
    inputs = tmp_path / "inputs.json"
    inputs.write_text('{"data_store": {}}')
    step = write_step("counter", COUNTER)
    both = pdee("run", step, "--data-store", "data_store", "--inputs", inputs)
    assert both.exit_code == 2 and "both give pd.inputs['data_store']" in both.stderr
    twice = pdee("run", step, "--data-store", "data_store", "--data-store", "data_store=x.db")
    assert twice.exit_code == 2 and "given twice" in twice.stderr


LEAVES = """
def handler(pd):
    with open("/tmp/report.csv", "w") as out:
        out.write("a,b\\n")
    return 1
"""

TIDY = """
import tempfile

def handler(pd):
    with tempfile.TemporaryDirectory() as work:
        with open(f"{work}/report.csv", "w") as out:
            out.write("a,b\\n")
    return 1
"""


def test_check_warns_of_files_left_in_tmp_and_not_of_tempfile(pdee, write_step):
    leaves = pdee("check", write_step("leaves", LEAVES), "--network", "none")
    assert leaves.exit_code == 0, leaves.stdout
    assert "/tmp/report.csv" in leaves.stdout and "tempfile" in leaves.stdout
    tidy = pdee("check", write_step("tidy", TIDY), "--network", "none")
    assert tidy.exit_code == 0 and "leaves no file in /tmp" in tidy.stdout


def test_data_store_load_then_a_step_reads_the_fixture(pdee, write_step, tmp_path):
    store, seed = tmp_path / "fixture.db", tmp_path / "seed.json"
    seed.write_text('{"counter": 41}')
    loaded = pdee("data-store", "load", store, seed)
    assert loaded.exit_code == 0 and "1 record loaded" in loaded.stdout
    outcome = pdee("run", write_step("counter", COUNTER), "--data-store", f"data_store={store}")
    assert outcome.executions[0]["steps"]["counter"]["return_value"] == 42


def test_the_api_takes_data_stores(write_step, tmp_path):
    import pdee

    store = tmp_path / "api.db"
    result = pdee.run([write_step("counter", COUNTER)], events=2, mode="warm",
                      data_stores={"data_store": store}, network="none")  # fmt: skip
    assert [e.steps["counter"].return_value for e in result.executions] == [1, 2]
    assert result.data_stores[0].records["counter"]["value"] == 2
    assert result.executions[1].stores["data_store"].writes == 1
