"""Auto-retry (issue 30) against the real daemon and image: a step that leaves a partial
file in /tmp and fails is retried from that step, warm on the same EE, where it finds the
file; an out-of-memory execution is not retried; ``pdee check --auto-retry`` tells of the
retry that built on the failed attempt's file, or wrote to a data store again."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

# Writes a row to /tmp/partial.csv, then fails unless the file was there before: the
# first attempt leaves a half-written file; a retry on the same EE finds it and passes.
PARTIAL = """
import os

def handler(pd: "pipedream"):
    path = "/tmp/partial.csv"
    found = os.path.exists(path)
    with open(path, "a") as out:
        out.write("row\\n")
    if not found:
        raise ConnectionError("the upload broke off after the first row")
    with open(path) as written:
        return {"found": found, "rows": written.read().count("row")}
"""
FIRST = """
def handler(pd: "pipedream"):
    return {"n": 1}
"""
# Counts in a data store, then fails on an EE that has not run it before.
COUNTER = """
import os

def handler(pd: "pipedream"):
    store = pd.inputs["db"]
    store["count"] = store.get("count", 0) + 1
    if not os.path.exists("/tmp/seen"):
        open("/tmp/seen", "w").close()
        raise ConnectionError("the upload failed after the count was written")
    return store["count"]
"""
HOG = """
def handler(pd: "pipedream"):
    hog = "x" * (300 * 2**20)
    return len(hog)
"""


def test_a_failed_step_is_retried_warm_and_finds_its_partial_file(pdee, write_step):
    steps = [write_step("first", FIRST), write_step("upload", PARTIAL)]
    ran = pdee("run", *steps, "--auto-retry", "--chaos", "0", "--network", "none")
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    failed, retry = ran.executions
    assert failed["status"] == "error" and failed["attempt"] == 1
    assert failed["retry"]["outcome"] == "retried" and failed["retry"]["retried_as"] == 1
    assert failed["retry"]["step"] == "upload"
    exports = failed["steps"]["upload"]["exports"]
    assert exports["$summary"].startswith("retried 0 of 8 times; retry 1 at ")
    assert exports["$attempt"]["error"]["name"] == "ConnectionError"
    assert exports["$attempt"]["resume_ts"] is not None
    # The retry: a later part of the same execution, from the failed step, 141 s later.
    assert retry["attempt"] == 2 and retry["part"] == 2 and retry["first_index"] == 0
    assert retry["trace_id"] == failed["trace_id"]
    assert retry["status"] == "ok" and list(retry["steps"]) == ["upload"]
    assert retry["at_s"] - failed["at_s"] >= 141
    assert (retry["start"], retry["ee"]) == ("warm", failed["ee"])
    assert retry["found_files"] == ["/tmp/partial.csv"]
    # It appended to the failed attempt's file and read its row as its own: twice.
    assert retry["steps"]["upload"]["return_value"] == {"found": True, "rows": 2}
    assert retry["steps"]["upload"]["tmp_opened"] == ["/tmp/partial.csv"]
    summary = ran.report["summary"]
    assert (summary["ok"], summary["failed"], summary["retried"]) == (1, 0, 1)
    assert "2 → retried" not in ran.stdout and "1 → retried" in ran.stdout  # attempt column
    assert "retry 1 of #0 (part 2), found /tmp/partial.csv" in ran.stdout  # flow column
    assert "1 ok, 0 failed, 1 retried (1 execution retried, 0 failed after retries)" in ran.stdout


def test_an_out_of_memory_execution_is_not_retried(pdee, write_step):
    ran = pdee("run", write_step("hog", HOG), "--auto-retry", "--memory", "128MB")
    assert ran.exit_code == 1, ran.stdout + ran.stderr
    (oom,) = ran.executions
    assert oom["status"] == "oom"
    assert oom["retry"]["outcome"] == "not retried: the platform never retries out of memory"
    assert "$summary" not in oom["steps"].get("hog", {}).get("exports", {})
    assert ran.report["summary"]["retried"] == 0


def test_check_fails_a_retry_that_builds_on_the_failed_attempts_file(pdee, write_step):
    # The warm run's retry lands on the failed attempt's EE, finds its file and appends
    # to it, whatever the chaos run (its seed fixed all the same) does.
    upload = write_step("upload", PARTIAL)
    checked = pdee("check", upload, "--auto-retry", "--warm", "1", "--seed", "474836599")
    assert checked.exit_code == 1, checked.stdout + checked.stderr
    assert "cold     │ pass    │ the first execution on a fresh EE passed (on attempt 2" in (
        checked.stdout
    )
    assert "retry    │ fail    │ execution 0's retry #2 (attempt 2 of step 'upload', warm" in (
        checked.stdout
    )
    assert "opened /tmp/partial.csv (to read it or add to it)" in checked.stdout
    assert "clean up /tmp at the start of the step" in checked.stdout


def test_check_fails_a_retry_that_writes_to_a_data_store_again(pdee, write_step):
    counter = write_step("count", COUNTER)
    checked = pdee(
        "check", counter, "--auto-retry", "--warm", "1", "--data-store", "db", "--seed", "7"
    )
    assert checked.exit_code == 1, checked.stdout + checked.stderr
    assert "retry    │ fail    │" in checked.stdout
    assert "wrote to the data store again (db['count'])" in checked.stdout
