"""The seed use cases in examples/, against a local HTTP server (--network host)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")
EXAMPLES = Path(__file__).parents[2] / "examples"
PAYLOAD = os.urandom(300_000)


class FileServer(BaseHTTPRequestHandler):
    uploads: ClassVar[list[tuple[str, bytes]]] = []

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FileServer.uploads.append((self.headers["Content-Type"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    FileServer.uploads = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FileServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_then_upload_multipart(pdee, server, tmp_path):
    inputs = tmp_path / "inputs.json"
    inputs.write_text(
        json.dumps({"download_url": f"{server}/logo.png", "upload_url": f"{server}/upload"})
    )
    outcome = pdee(
        "run",
        EXAMPLES / "download.py",
        EXAMPLES / "upload.py",
        "--inputs",
        inputs,
        "--network",
        "host",
        "--events",
        "2",
    )
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    for execution in outcome.executions:
        assert execution["steps"]["download"]["return_value"]["bytes"] == len(PAYLOAD)
        assert execution["steps"]["upload"]["return_value"]["status"] == 200
        assert execution["tmp"]["files"] == 0  # the upload step deleted the download
    assert len(FileServer.uploads) == 2
    content_type, body = FileServer.uploads[0]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert b'filename="download.bin"' in body
    assert PAYLOAD in body


def test_write_read_list_delete(pdee):
    steps = [
        EXAMPLES / f"{name}.py" for name in ("write_file", "read_file", "list_files", "delete_file")
    ]
    outcome = pdee("run", *steps, "--events", "3")
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    for execution in outcome.executions:
        steps_out = execution["steps"]
        assert steps_out["read_file"]["return_value"] == 1_000_000
        assert steps_out["list_files"]["exports"]["files"] == ["example.bin"]
        assert steps_out["delete_file"]["return_value"] is False
        assert execution["tmp"]["files"] == 0


def test_leftovers_fill_a_warm_ee_until_chaos_gives_a_fresh_one(pdee):
    outcome = pdee(
        "run", EXAMPLES / "leftovers.py", "--events", "24", "--tmp-size", "64MB",
        "--interval", "60", "--chaos", "0.08", "--seed", "3",
    )  # fmt: skip
    assert outcome.exit_code == 1
    by_ee: dict[str, list[dict]] = {}
    for execution in outcome.executions:
        by_ee.setdefault(execution["ee"], []).append(execution)
    first, *later = by_ee.values()
    # 8MB a time in 64MB, beside the platform's files: the 8th execution hits the cap.
    assert [e["status"] for e in first[:7]] == ["ok"] * 7
    failure = first[7]
    assert failure["status"] == "error"
    assert failure["error"]["type"] == "OSError"
    assert "No space left on device" in failure["error"]["message"]
    # A new EE starts empty: its first execution sees only its own file.
    fresh = later[0][0]
    assert fresh["start"] == "cold" and fresh["status"] == "ok"
    assert fresh["steps"]["leftovers"]["return_value"] == 2  # its file and __pdg__
    assert outcome.report["ees"][0]["retired"] == "chaos"
