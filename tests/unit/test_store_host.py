"""The host side of data stores (SQLite records on the virtual clock), and the step's
``Store`` wired straight to it. No Docker."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pytest

from pdee.errors import UsageError
from pdee.runtime.store import Keys, Store
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
