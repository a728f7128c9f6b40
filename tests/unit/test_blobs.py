"""The bodies the runtime serves to a step (``runtime/blobs.py``) are the runtime's: held
in memory files, sent from there, and left out of the step's memory count."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import urllib.error
import urllib.request

import pytest

from pdee.runtime import usage
from pdee.runtime.blobs import PAGE_BYTES, BlobServer, Body

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def server():
    blob_server = BlobServer()
    yield blob_server
    blob_server.clear()
    blob_server.shutdown()
    blob_server.server_close()


def encoded(data: bytes, kind: str = "application/octet-stream") -> dict[str, str]:
    return {"data": base64.b64encode(data).decode(), "type": kind}


def test_a_body_is_decoded_slice_by_slice_into_a_memory_file(monkeypatch):
    monkeypatch.setattr("pdee.runtime.blobs.DECODE_SLICE_CHARS", 8)  # many slices
    data = os.urandom(1000)
    body = Body(encoded(data)["data"], "image/png")
    try:
        assert body.fd is not None and body.data is None  # not in the process's memory
        assert body.size == 1000 and body.held_bytes == PAGE_BYTES
        fd = body.open()
        assert fd is not None
        assert os.pread(fd, 2000, 0) == data
        os.close(fd)
    finally:
        body.close()
    assert body.held_bytes == 0 and body.open() is None


def test_the_server_sends_each_body_whole_and_takes_them_out_of_the_message(server):
    data = os.urandom(3 * 2**20 + 5)
    blobs = {"t1": encoded(data), "t2": encoded(b"x,y\n", "text/csv")}
    server.hold(blobs)
    assert blobs == {}  # taken out as they were decoded: the text goes at once
    assert server.held_bytes == -(-len(data) // PAGE_BYTES) * PAGE_BYTES + PAGE_BYTES
    event = server.rewrite({"body": {"raw_body_url": "pdee-blob://t1"}})
    url = event["body"]["raw_body_url"]
    assert url == f"http://127.0.0.1:{server.port}/t1"
    with OPENER.open(url, timeout=10) as response:
        digest = hashlib.sha256()
        while chunk := response.read(2**20):
            digest.update(chunk)
        assert response.headers["content-length"] == str(len(data))
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    with OPENER.open(f"http://127.0.0.1:{server.port}/t2", timeout=10) as response:
        assert response.read() == b"x,y\n" and response.headers["content-type"] == "text/csv"
    server.clear()
    assert server.held_bytes == 0
    with pytest.raises(urllib.error.HTTPError) as missing:
        OPENER.open(url, timeout=10)
    assert missing.value.code == 404
    missing.value.close()


def test_a_download_in_flight_as_the_execution_ends_finishes_whole(server):
    data = os.urandom(8 * 2**20)
    server.hold({"t": encoded(data)})
    response = OPENER.open(f"http://127.0.0.1:{server.port}/t", timeout=10)
    first = response.read(2**20)
    cleared = threading.Thread(target=server.clear)
    cleared.start()
    cleared.join(5)
    rest = response.read()
    response.close()
    assert first + rest == data


def test_the_runtimes_bodies_are_not_the_steps_memory(tmp_path):
    stat = tmp_path / "memory.stat"
    stat.write_text(f"anon {300 * 2**20}\nfile 0\nshmem {70 * 2**20}\n")
    meter = usage.MemoryMeter(tmp=str(tmp_path))
    meter.stat = (str(stat), os.open(stat, os.O_RDONLY), ("anon", "shmem"))
    meter.tmp_used = lambda: 6 * 2**20  # type: ignore[method-assign]
    assert meter.current() == 364 * 2**20
    meter.runtime_bytes = 64 * 2**20  # an upload the runtime serves
    assert meter.current() == 300 * 2**20
    os.close(meter.stat[1])
    os.close(meter.tmp_fd)
