"""`pdee packages` against the real image and real PyPI (small packages): what the EE
gets, with versions and sizes, fetched once and then read from the cache offline."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "pdee" / "packages"


STEP = """
import json, os
import six                       # same name on PyPI
from dateutil import parser      # python-dateutil, by pipreqs' table
import yaml                      # PyYAML, a compiled wheel
# pipedream add-package python-dateutil==2.9.0.post0

def handler(pd):
    return 1
"""


def test_packages_lists_what_the_ee_gets_then_works_offline(pdee, write_step, cache):
    step = write_step("convert", STEP)
    fetched = pdee("packages", step)
    assert fetched.exit_code == 0, fetched.stderr
    rows = {line.split("│")[1].strip(): line for line in fetched.stdout.splitlines() if "│" in line}
    assert set(rows) == {"python_dateutil", "pyyaml", "six"}
    assert "2.9.0.post0" in rows["python_dateutil"] and "convert" in rows["six"]
    assert "3 packages" in fetched.stdout and "/tmp/__pdg__/dist/python" in fetched.stdout
    assert "fetching" in fetched.stderr
    assert len(list(cache.iterdir())) == 1

    started = time.monotonic()
    offline = pdee("packages", step, "--offline", "--tmp-size", "16MB")
    assert offline.exit_code == 0, offline.stderr
    assert time.monotonic() - started < 5 and "fetching" not in offline.stderr
    assert "more than a tenth of /tmp" in offline.stdout


def test_packages_offline_with_nothing_cached_exits_6(pdee, write_step, cache):
    outcome = pdee("packages", write_step("convert", STEP), "--offline")
    assert outcome.exit_code == 6
    assert outcome.stderr.strip().startswith("Error: --offline: ")
    assert "run once without --offline" in outcome.stderr


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import pdee_no_such_module_k7\n", "add `# pipedream add-package NAME`"),
        ("import six\n# pipedream add-package six==0.0.42\n", "pin a version that exists"),
        ("# pipedream add-package six>=1\n", "write `# pipedream add-package NAME`"),
    ],
)
def test_packages_that_cannot_be_had_are_usage_errors(pdee, write_step, cache, code, message):
    outcome = pdee("packages", write_step("step", code + "def handler(pd):\n    return 1\n"))
    assert outcome.exit_code == 2, outcome.stderr
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in outcome.stderr


def test_steps_with_only_the_standard_library_need_nothing(pdee, write_step):
    outcome = pdee("packages", write_step("plain", "import os, json\ndef handler(pd):\n    pass\n"))
    assert outcome.exit_code == 0
    assert "no package outside the standard library" in outcome.stdout


RUN_STEP = """
import os
import yaml
import six
from dateutil import parser
# pipedream add-package six==1.16.0

def handler(pd):
    open("/tmp/mine", "w").write("x")
    return {
        "six": six.__version__,
        "year": parser.parse("2026-11-24").year,
        "yaml": yaml.safe_load("a: 1"),
        "where": os.path.dirname(yaml.__file__),
        "path": [p for p in __import__("sys").path if "__pdg__" in p],
    }
"""


def test_run_installs_the_packages_in_tmp_where_they_take_their_room(pdee, write_step, cache):
    step = write_step("convert", RUN_STEP)
    first = pdee("run", step, "--events", "2", "--mode", "warm", "--tmp-size", "64MB")
    assert first.exit_code == 0, first.stderr
    value = first.executions[0]["steps"]["convert"]["return_value"]
    assert value["six"] == "1.16.0"  # the add-package pin, not the latest
    assert value["year"] == 2026 and value["yaml"] == {"a": 1}  # a compiled wheel works
    assert value["where"] == "/tmp/__pdg__/dist/python/yaml"
    assert value["path"] == ["/tmp/__pdg__/dist/python"]
    tmp = first.executions[0]["tmp"]
    assert tmp["packages_bytes"] > 2 * 2**20  # PyYAML alone is ~3MB installed
    assert tmp["used_bytes"] >= tmp["packages_bytes"]
    versions = {p["name"]: p["version"] for p in first.report["settings"]["packages"]}
    assert versions["six"] == "1.16.0"  # dependencies come too (a new dateutil needs tzdata)
    assert set(versions) >= {"python_dateutil", "pyyaml", "six"}
    assert "packages: " in first.stdout and "left for the step" in first.stdout
    assert "fetching" in first.stderr

    # The second run fetches and builds nothing, and needs no network.
    started = time.monotonic()
    again = pdee("run", step, "--mode", "warm", "--tmp-size", "64MB", "--offline")
    assert again.exit_code == 0, again.stderr
    assert "fetching" not in again.stderr and "building" not in again.stderr
    assert time.monotonic() - started < 15


def test_run_offline_with_nothing_cached_fails_before_any_ee(pdee, write_step, cache):
    outcome = pdee("run", write_step("convert", RUN_STEP), "--offline")
    assert outcome.exit_code == 6 and "run once without --offline" in outcome.stderr
    assert outcome.report is None


def test_packages_bigger_than_tmp_are_refused_before_any_ee(pdee, write_step, cache):
    outcome = pdee("run", write_step("convert", RUN_STEP), "--tmp-size", "2MB")
    assert outcome.exit_code == 2, outcome.stderr
    assert "all of the 2MB /tmp: every execution would fail" in outcome.stderr


def test_two_steps_pinning_different_versions_are_refused(pdee, write_step):
    first = write_step("a", "# pipedream add-package six==1.16.0\ndef handler(pd):\n    pass\n")
    second = write_step("b", "# pipedream add-package six==1.17.0\ndef handler(pd):\n    pass\n")
    outcome = pdee("run", first, second)
    assert outcome.exit_code == 2
    assert "steps 'a' (line 1) and 'b' (line 1) pin six" in outcome.stderr


SDIST_ONLY = """
import docopt  # PyPI has only the sources of docopt 0.6.2: no wheel at all

def handler(pd):
    return {"version": docopt.__version__, "where": docopt.__file__}
"""


def test_a_package_without_wheels_is_built_on_the_host(pdee, write_step, cache):
    outcome = pdee("run", write_step("parse", SDIST_ONLY), "--mode", "warm")
    assert outcome.exit_code == 0, outcome.stderr
    assert "building a wheel of docopt on this host" in outcome.stderr
    value = outcome.executions[0]["steps"]["parse"]["return_value"]
    assert value["version"] == "0.6.2"
    assert value["where"].startswith("/tmp/__pdg__/dist/python/")
    again = pdee("run", write_step("parse", SDIST_ONLY), "--offline")
    assert again.exit_code == 0 and "building" not in again.stderr
