"""The built-in actions pdee emulates, run inside the EE as steps of a synced workflow the
test writes: a filter ending the workflow, ``http-return-http-response`` answering
``pdee serve``, a file downloaded into the EE's /tmp, data store actions, an email
recorded, a delay (against the real daemon and image)."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import pdee

pytestmark = pytest.mark.usefixtures("no_new_containers")

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def synced(tmp_path: Path, steps: str, code: dict[str, str], trigger: str = "hi_Abc1234") -> Path:
    """A workflow folder as GitHub Sync writes it: ``steps`` (YAML) and Python steps."""
    folder = tmp_path / "actions-p_Act1234"
    folder.mkdir()
    (folder / "workflow.yaml").write_text(
        "schema: workflow/2022.04\nname: Actions\n"
        f"triggers:\n- id: {trigger}\nsteps:\n" + textwrap.dedent(steps)
    )
    for namespace, source in code.items():
        (folder / namespace).mkdir()
        (folder / namespace / "entry.py").write_text(textwrap.dedent(source))
    return folder


FIRST = """
- namespace: first
  runtime: python3.12
  uses: ./first/entry.py
"""
LAST = """
- namespace: last
  runtime: python3.12
  uses: ./last/entry.py
"""
CODE = {
    "first": "def handler(pd):\n    return {'count': 0, 'path': '/Apps/Output/a.mp3'}\n",
    "last": "def handler(pd):\n    return 'ran'\n",
}


def test_a_filter_action_ends_the_workflow_after_its_step(pdee, tmp_path):
    folder = synced(
        tmp_path,
        FIRST
        + """
- namespace: continue_based_on_condition
  runtime: nodejs20.x
  uses: filter-continue-based-on-condition@0.0.2
  props:
    initialValue: "{{steps.first.$return_value.count}}"
    condition: GREATER_THAN_EQUALS
    secondValue: '1'
    messageOnEnd: nothing new
"""
        + LAST,
        CODE,
    )
    ran = pdee("run", folder, "--network", "none")
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    execution = ran.executions[0]
    assert execution["status"] == "exit" and execution["exit_reason"] == "nothing new"
    assert list(execution["steps"]) == ["first", "continue_based_on_condition"]
    assert "runs filter-continue-based-on-condition@0.0.2 as pdee emulates it" in ran.stdout


def test_http_return_http_response_answers_serve(tmp_path):
    folder = synced(
        tmp_path,
        FIRST
        + """
- namespace: return_http_response
  runtime: nodejs20.x
  uses: http-return-http-response@0.0.3
  props:
    resStatusCode: 202
    resHeaders:
      content-type: application/rss+xml
    resBody: "<rss>{{steps.first.$return_value.path}}</rss>"
""",
        CODE,
    )
    with pdee.serve([folder], custom_response=True, network="none") as server:
        answer = requests.get(server.url + "/feed")
    assert answer.status_code == 202, answer.text
    assert answer.headers["content-type"] == "application/rss+xml"
    assert answer.text == "<rss>/Apps/Output/a.mp3</rss>"


class FileServer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/song.mp3":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FileServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_file_to_tmp_writes_the_ees_tmp(pdee, tmp_path, server):
    folder = synced(
        tmp_path,
        """
- namespace: download_file_to_tmp
  runtime: nodejs20.x
  uses: helper_functions-download-file-to-tmp@0.3.0
  props:
    url: "URL/song.mp3"
    filename: song.mp3
- namespace: size
  runtime: python3.12
  uses: ./size/entry.py
""".replace("URL", server),
        {
            "size": """
            import os

            def handler(pd):
                path = pd.steps["download_file_to_tmp"]["$return_value"][1]
                return os.path.getsize(path)
            """
        },
    )
    ran = pdee("run", folder, "--network", "host", "--tmp-size", "8MB", "--events", "2")
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    for execution in ran.executions:
        steps = execution["steps"]
        assert steps["download_file_to_tmp"]["return_value"] == ["song.mp3", "/tmp/song.mp3"]
        assert steps["size"]["return_value"] == len(PAYLOAD)
        assert execution["tmp"]["peak_used_bytes"] >= len(PAYLOAD)  # counted against /tmp
    # Past the cap: the platform's ENOSPC, as the step's error.
    full = pdee("run", folder, "--network", "host", "--tmp-size", "1MB")
    assert full.exit_code == 1
    error = full.executions[0]["error"]
    assert error["step"] == "download_file_to_tmp" and "No space left" in error["message"]


def test_data_store_actions_email_and_delay(pdee, tmp_path):
    folder = synced(
        tmp_path,
        """
- namespace: get_record_or_create
  runtime: nodejs20.x
  uses: data_stores-get-record-or-create@0.0.10
  props:
    dataStore:
      storeId: ds_Act1234
    key: models
    addRecordIfNotFound: 'Yes'
    value: "[]"
- namespace: add_update_record
  runtime: nodejs20.x
  uses: data_stores-add-update-record@0.0.9
  props:
    dataStore:
      storeId: ds_Act1234
    key: seen
    value: "{count: 2, tags: ['a']}"
- namespace: send_email_to_self
  runtime: nodejs20.x
  uses: email-send-email-to-self@0.4.4
  props:
    subject: Report
    text: "models: {{steps.get_record_or_create.$return_value}}"
- namespace: delay
  runtime: nodejs20.x
  uses: delay-workflow-delay@0.0.2
  props:
    delayDurationValue: 5
    delayDurationUnit: Minutes
"""
        + LAST,
        CODE,
    )
    ran = pdee("run", folder, "--network", "none")
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    first, later = ran.executions
    steps = first["steps"]
    assert steps["get_record_or_create"]["return_value"] == []
    assert steps["add_update_record"]["return_value"] == {
        "key": "seen",
        "value": {"count": 2, "tags": ["a"]},
        "ttl": None,
    }
    records = ran.report["data_stores"]["ds_Act1234"]["records"]
    assert records["seen"]["value"] == {"count": 2, "tags": ["a"]}
    assert records["models"]["value"] == []
    assert [e["subject"] for e in first["emails"]] == ["Report"]
    assert first["emails"][0]["step"] == "send_email_to_self"
    urls = steps["delay"]["return_value"]
    assert set(urls) == {"resume_url", "cancel_url"}
    assert first["pause"]["kind"] == "delay" and first["pause"]["ms"] == 300_000
    assert later["steps"]["last"]["return_value"] == "ran"
