"""The host side of data stores (SQLite records on the virtual clock), and the step's
``Store`` wired straight to it. No Docker."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import subprocess
import sys
import threading

import pytest
from typer.testing import CliRunner

from pdee.cli import app
from pdee.errors import UsageError
from pdee.runtime.store import Keys, Store
from pdee.services import data_stores
from pdee.services.data_stores import DataStore

NOW = 1_800_000_000.0


@pytest.fixture
def store():
    with DataStore("data_store") as opened:
        yield opened


def connected(store: DataStore, clock: list[float]) -> Store:
    """A step's Store wired straight to ``store`` (no EE), at the time in ``clock``."""
    return Store("data_store", lambda call: store.answer(call, clock[0]))


def test_the_platforms_api_end_to_end(store):
    clock = [NOW]
    ds = connected(store, clock)
    ds["counter"] = 1
    assert ds["counter"] == 1 and ds.get("counter") == 1
    assert ds.get("missing") is None and ds.get("missing", "default") == "default"
    with pytest.raises(TypeError, match="has no key 'missing'"):
        ds["missing"]
    assert "counter" in ds and "missing" not in ds and 7 not in ds
    ds.set("pokemon", {"name": "Charmander", "type": "fire"})
    ds["pokemon"]["name"] = "Bulbasaur"  # a copy: nothing changes in the store
    assert ds["pokemon"]["name"] == "Charmander"
    keys = ds.keys()
    assert isinstance(keys, Keys) and list(keys) == ["counter", "pokemon"]
    assert dict(ds.items()) == {"counter": 1, "pokemon": {"name": "Charmander", "type": "fire"}}
    del ds["counter"]
    assert "counter" not in ds
    ds.clear()
    assert list(ds.keys()) == []


def test_values_must_be_json(store):
    ds = connected(store, [NOW])
    with pytest.raises(TypeError, match="JSON-serializable"):
        ds["bad"] = {1, 2}
    with pytest.raises(TypeError, match="JSON-serializable"):
        ds["nan"] = float("nan")
    with pytest.raises(TypeError, match="keys are strings"):
        ds[3] = "x"


def test_ttls_expire_on_the_callers_clock(store):
    clock = [NOW]
    ds = connected(store, clock)
    ds.set("cache", [1, 2], ttl=60)
    ds["forever"] = True
    clock[0] += 59
    assert ds["cache"] == [1, 2]
    clock[0] += 2
    assert "cache" not in ds and list(ds.keys()) == ["forever"]
    ds.set("cache", 1, ttl=10)
    ds.set_ttl("cache", ttl=None)  # kept for good
    clock[0] += 10**6
    assert ds["cache"] == 1
    ds.set_ttl("cache", ttl=5)
    clock[0] += 6
    assert ds.get("cache") is None
    with pytest.raises(ValueError, match="positive"):
        ds.set("x", 1, ttl=0)


def test_a_file_keeps_its_records_across_opens_and_processes(tmp_path):
    path = tmp_path / "data.db"
    with DataStore("data_store", path) as first:
        first.set("counter", 41, NOW)
    code = (
        "import os, sys, pathlib; from pdee.services.data_stores import DataStore; "
        "store = DataStore('data_store', pathlib.Path(sys.argv[1])); "
        f"store.set('counter', store.get('counter', {NOW})[1] + 1, {NOW}); "
        "os._exit(9)"  # no close: as a kill -9 after the write
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)])
    assert done.returncode == 9
    with DataStore("data_store", path) as again:
        assert again.get("counter", NOW) == (True, 42)


def test_concurrent_writers_on_one_file_all_land(tmp_path):
    path = tmp_path / "shared.db"
    stores = [DataStore("s", path) for _ in range(4)]

    def write(index: int) -> None:
        for n in range(50):
            stores[index].set(f"{index}-{n}", n, NOW)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stores[0].keys(NOW)) == 200
    for opened in stores:
        opened.close()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.write_bytes(b"not a database, just text" * 100), "cannot be used"),
        (lambda p: p.mkdir(), "is not a file"),
        (lambda p: sqlite3.connect(p).execute("CREATE TABLE other (x)"), "not a pdee data store"),
    ],
)
def test_what_is_not_a_store_is_one_usage_error(tmp_path, make, match):
    path = tmp_path / "store.db"
    make(path)
    with pytest.raises(UsageError, match=match) as refused:
        DataStore("data_store", path)
    assert "\n" not in str(refused.value)


def test_a_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist; create it first"):
        DataStore("data_store", tmp_path / "nodir" / "x.db")


def test_records_with_their_expiry(store):
    store.set("a", 1, NOW, ttl_s=30)
    store.set("b", {"x": [1]}, NOW)
    records = {r.key: r.to_json() for r in store.records()}
    assert records == {
        "a": {"value": 1, "expires_at": NOW + 30},
        "b": {"value": {"x": [1]}, "expires_at": None},
    }
    assert [r.key for r in store.records(now=NOW + 31)] == ["b"]


# -- what the EE's calls carry is checked on the host (issue 28) --------------------


@pytest.mark.parametrize(
    ("call", "said"),
    [
        ({"op": "set", "key": "k", "value": 1, "ttl": "abc"}, "ttl must be a number"),
        ({"op": "set", "key": "k", "value": 1, "ttl": math.inf}, "ttl must be a number"),
        ({"op": "set", "key": "k", "value": 1, "ttl": math.nan}, "ttl must be a number"),
        ({"op": "set", "key": "k", "value": 1, "ttl": True}, "ttl must be a number"),
        ({"op": "set_ttl", "key": "k", "ttl": 1e300}, "at most a century"),
        ({"op": "set_ttl", "key": "k", "ttl": -1}, "positive number of seconds"),
        ({"op": "set", "key": "\ud800", "value": 1}, "half of a surrogate pair"),
        ({"op": "get", "key": ["k"]}, "keys are strings, not list"),
        ({"op": "get"}, "keys are strings, not NoneType"),
        ({"op": "set", "key": "k"}, "a set call carries a value"),
        ({"op": "set", "key": "k", "value": math.nan}, "not JSON data"),
        (
            {"op": "set", "key": "k", "value": [[[]]] * 2 + [json.loads("[" * 501 + "]" * 501)]},
            "nests deeper",
        ),
        ({"op": ["get"], "key": "k"}, "unknown data store operation ['get']"),
        ({"op": "drop", "key": "k"}, "unknown data store operation 'drop'"),
        ({"key": "k"}, "unknown data store operation None"),
    ],
)
def test_a_forged_call_is_an_error_answer_never_a_crash(store, call, said):
    answer = store.answer(call, NOW)
    assert said in answer["error"]
    assert store.keys(NOW) == [] and list(store.records()) == []


def test_a_lone_surrogate_key_is_the_steps_value_error(store):
    ds = connected(store, [NOW])
    with pytest.raises(ValueError, match=r"'\\ud800' at position 2 is half of a surrogate pair"):
        ds["ab\ud800"] = 1
    with pytest.raises(ValueError, match="surrogate"):
        ds.get("\udfff")
    assert "\ud800" not in ds
    with pytest.raises(TypeError, match="ttl must be a number"):
        ds.set("k", 1, ttl=math.inf)
    with pytest.raises(ValueError, match="at most a century"):
        ds.set_ttl("k", ttl=1e12)
    with pytest.raises(ValueError, match="nests 501 levels deep; pdee carries"):
        ds["deep"] = json.loads("[" * 501 + "]" * 501)
    assert store.keys(NOW) == []


def damaged(path, make) -> None:
    """A store file, damaged by ``make(path)`` after pdee wrote it."""
    with DataStore("data_store", path) as made:
        for n in range(300):
            made.set(f"key-{n:03}", "x" * 1000, NOW)
    make(path)


def overwrite_a_page(path) -> None:
    with open(path, "r+b") as file:
        file.seek(4096 * 20)
        file.write(b"\xa5" * 4096)


def set_raw(path, key, value, expires=None) -> None:
    with sqlite3.connect(path) as db:
        db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", (key, value, expires))
    db.close()


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (overwrite_a_page, "is damaged"),
        (lambda p: set_raw(p, "bad", "not json {"), "the value of key 'bad' is not JSON"),
        (
            lambda p: set_raw(p, "nan", "[NaN]"),
            "the value of key 'nan' is not JSON (line 1, column 2: NaN",
        ),
        (lambda p: set_raw(p, "deep", "[" * 600 + "]" * 600), "nests deeper than the 500"),
        (lambda p: set_raw(p, "blob", b"\x00\x01"), "the value of key 'blob' is bytes"),
        (lambda p: set_raw(p, "inf", "1", math.inf), "key 'inf' expires at inf, not a time"),
        (lambda p: set_raw(p, "text", "1", "soon"), "key 'text' expires at 'soon', not a time"),
    ],
)
def test_a_damaged_store_file_is_one_line_for_open_show_and_load(tmp_path, make, said):
    path = tmp_path / "data.db"
    damaged(path, make)
    records = tmp_path / "records.json"
    records.write_text('{"a": 1}')
    for attempt in (
        lambda: DataStore("data_store", path),
        lambda: data_stores.show(path),
        lambda: data_stores.load(path, records),
    ):
        with pytest.raises(UsageError, match=re.escape(said)) as refused:
            attempt()
        assert "\n" not in str(refused.value) and len(str(refused.value)) < 500
    outcome = CliRunner().invoke(app, ["data-store", "show", str(path)])
    assert outcome.exit_code == 2, outcome.output
    assert outcome.stderr.count("\n") == 1 and said in outcome.stderr


def test_a_record_changed_outside_pdee_mid_run_fails_that_call_only(tmp_path):
    path = tmp_path / "data.db"
    with DataStore("data_store", path) as store:
        store.set("good", 1, NOW)
        set_raw(path, "bad", "{not json")
        ds = connected(store, [NOW])
        with pytest.raises(
            RuntimeError, match=r"the value of key 'bad' is not JSON .*outside pdee"
        ):
            ds["bad"]
        with pytest.raises(RuntimeError, match="outside pdee"):
            dict(ds.items())
        assert ds["good"] == 1


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"a": NaN}', "line 1, column 7: NaN, which JSON does not have"),
        ("[Infinity]", "line 1, column 2: Infinity, which JSON does not have"),
        ('{"\\ud800": 1}', "'\\ud800' at position 0 is half of a surrogate pair"),
        ("[" * 600 + "]" * 600, "nests deeper than the 500 levels"),
        ("[1]", "must hold a JSON object"),
    ],
)
def test_loading_records_that_are_not_json_is_one_line(tmp_path, text, said):
    records = tmp_path / "records.json"
    records.write_text(text)
    outcome = CliRunner().invoke(app, ["data-store", "load", str(tmp_path / "d.db"), str(records)])
    assert outcome.exit_code == 2, outcome.output
    assert outcome.stderr.count("\n") == 1 and said in outcome.stderr, outcome.stderr


def test_show_prints_a_lone_surrogate_in_a_value_as_json_does(tmp_path):
    path = tmp_path / "data.db"
    with DataStore("data_store", path) as store:
        store.set("k", "a\ud800b", NOW)
    outcome = CliRunner().invoke(app, ["data-store", "show", str(path)])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.stdout)["k"]["value"] == "a\ud800b"
