"""pdee serve: the HTTP trigger for a real client (requests), against the real daemon and
image. Servers listen on 127.0.0.1 with a port the OS picks."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

import pdee

pytestmark = pytest.mark.usefixtures("no_new_containers")

ECHO = """
def handler(pd):
    event = pd.steps["trigger"]["event"]
    pd.respond({"status": 201, "headers": {"X-Step": "echo"}, "body": event})
    return event["method"]
"""


@pytest.fixture
def echo(write_step):
    return write_step("echo", ECHO)


def test_the_event_from_real_requests(echo):
    with pdee.serve([echo], custom_response=True, network="none") as server:
        sent = requests.post(server.url + "/orders?id=7&id=8", json={"sku": "a1"},
                             headers={"X-Custom": "Yes"})  # fmt: skip
        form = requests.post(server.url + "/form", data={"a": "1", "b": "two"})
        text = requests.put(
            server.url + "/text", data=b"hello", headers={"content-type": "text/plain"}
        )
        multi = requests.post(server.url + "/up", data={"field": "v"},
                              files={"file": ("a.csv", b"x,y\n", "text/csv")})  # fmt: skip
    assert sent.status_code == 201 and sent.headers["x-step"] == "echo"
    event = sent.json()
    assert event["method"] == "POST" and event["path"] == "/orders"
    assert event["query"] == {"id": ["7", "8"]} and event["body"] == {"sku": "a1"}
    assert event["headers"]["x-custom"] == "Yes" and event["client_ip"] == "127.0.0.1"
    assert event["url"].endswith("/orders?id=7&id=8")
    assert form.json()["body"] == {"a": "1", "b": "two"}
    assert text.json()["body"] == "hello" and text.json()["method"] == "PUT"
    uploaded = multi.json()["body"]
    assert uploaded["field"] == "v" and uploaded["file"]["filename"] == "a.csv"
    assert uploaded["file"]["mimetype"] == "text/csv"
    assert uploaded["file"]["url"].startswith("http://127.0.0.1:")
    assert server.result is not None and len(server.result.executions) == 4


def test_default_response_and_the_400_of_a_workflow_that_never_responds(write_step):
    quiet = write_step("quiet", "def handler(pd):\n    return 1\n")
    with pdee.serve([quiet], network="none") as server:
        default = requests.get(server.url + "/")
    with pdee.serve([quiet], custom_response=True, network="none") as server:
        custom = requests.get(server.url + "/")
        options = requests.options(server.url + "/")
    assert default.status_code == 200 and "Success!" in default.text
    assert custom.status_code == 400 and custom.text == "No $.respond called in workflow"
    assert options.headers["access-control-allow-origin"] == "*"


def test_bad_requests_get_the_platforms_status_and_the_server_goes_on(echo):
    with pdee.serve([echo], custom_response=True, network="none") as server:
        big = requests.post(server.url + "/", data=b"x" * (512 * 1024 + 1))
        bad = requests.post(server.url + "/", data=b"{nope",
                            headers={"content-type": "application/json"})  # fmt: skip
        fine = requests.post(server.url + "/", json={"ok": 1})
    assert big.status_code == 413 and bad.status_code == 400
    assert fine.status_code == 201
    assert server.result is not None and len(server.result.executions) == 1


SLOW = """
import time

def handler(pd):
    time.sleep(0.5)
    pd.respond({"status": 200, "body": "done"})
"""


def test_concurrent_requests_run_on_several_ees_never_two_in_one(write_step):
    step = write_step("slow", SLOW)
    # No chaos: an EE destroyed at random would be a fourth (the platform may, 1% a draw).
    with pdee.serve(
        [step], custom_response=True, concurrency=3, chaos=0.0, network="none"
    ) as server:
        answers: list[int] = []

        def call() -> None:
            answers.append(requests.get(server.url + "/").status_code)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert answers == [200] * 6
    result = server.result
    assert result is not None
    assert 2 <= len({e.ee for e in result.executions}) <= 3
    # All six came at once: those that waited for a busy EE arrived then, not when placed.
    arrivals = [e.arrived_at_s for e in result.executions]
    assert max(arrivals) - min(arrivals) < 0.4, arrivals
    assert sum(e.at_s - e.arrived_at_s > 0.3 for e in result.executions) >= 3
    for ee in result.ees.values():  # each EE's executions never overlap in real time
        spans = sorted(
            (result.executions.by_index(i).at_s, result.executions.by_index(i).at_s
             + result.executions.by_index(i).duration_ms / 1000)
            for i in ee.executions
        )  # fmt: skip
        assert all(a[1] <= b[0] + 0.05 for a, b in itertools.pairwise(spans))


def test_an_idle_ee_expires_in_real_time(echo):
    with pdee.serve(
        [echo], custom_response=True, idle_timeout=1, chaos=0, network="none"
    ) as server:
        requests.get(server.url + "/")
        requests.get(server.url + "/")
        time.sleep(1.5)
        requests.get(server.url + "/")
    assert server.result is not None
    assert [e.start.value for e in server.result.executions] == ["cold", "warm", "cold"]


def test_ctrl_c_with_a_request_in_flight_finishes_it_and_writes_the_report(write_step, tmp_path):
    step = write_step("slow", SLOW)
    report = tmp_path / "serve.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "pdee", "serve", step, "--port", "0", "--custom-response",
         "--network", "none", "--report", report],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    url = line.split(" on ")[1].split()[0]
    answer: list[int] = []
    caller = threading.Thread(target=lambda: answer.append(requests.get(url + "/").status_code))
    caller.start()
    time.sleep(0.3)  # in flight
    process.send_signal(signal.SIGINT)
    caller.join(30)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert answer == [200]
    executions = json.loads(report.read_text())["executions"]
    assert len(executions) == 1 and executions[0]["status"] == "ok"


def test_a_port_in_use_is_one_line_before_any_ee(echo):
    with pdee.serve([echo], network="none") as server:
        port = server.url.rsplit(":", 1)[1]
        taken = subprocess.run(
            [sys.executable, "-m", "pdee", "serve", echo, "--port", port],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert taken.returncode == 2
    assert taken.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")


def test_record_then_replay_the_same_events_in_order(echo, tmp_path):
    hits = tmp_path / "hits.jsonl"
    with pdee.serve([echo], custom_response=True, network="none", record=hits) as server:
        for n in range(3):
            requests.post(server.url + f"/n/{n}", json={"n": n})
            time.sleep(0.2)
    lines = [json.loads(line) for line in hits.read_text().splitlines()]
    assert [line["body"] for line in lines] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert all(line["ts"].endswith("Z") for line in lines)
    replayed = pdee.run([echo], schedule=hits, network="none")
    assert [e.respond["body"]["path"] for e in replayed.executions if e.respond] == [
        "/n/0", "/n/1", "/n/2",
    ]  # fmt: skip
    assert replayed.executions[2].at_s >= 0.4  # the recorded gaps, on the virtual clock


DOWNLOAD = """
import hashlib
import urllib.request

def handler(pd):
    body = pd.steps["trigger"]["event"]["body"]
    url = body["raw_body_url"] if "raw_body_url" in body else body["file"]["url"]
    with urllib.request.urlopen(url) as response:
        data = response.read()
    pd.respond({"status": 200, "body": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}})
"""


def test_a_3mb_upload_and_a_file_are_downloaded_by_the_step_inside_the_ee(write_step):
    import hashlib
    import os

    step = write_step("download", DOWNLOAD)
    data = os.urandom(3 * 2**20)
    digest = hashlib.sha256(data).hexdigest()
    with pdee.serve([step], custom_response=True) as server:  # the default network: bridge
        raw = requests.post(server.url + "/up?pipedream_upload_body=1", data=data,
                            headers={"content-type": "application/octet-stream"})  # fmt: skip
        header = requests.post(server.url + "/up", data=data[:1000],
                               headers={"x-pd-upload-body": "1"})  # fmt: skip
        file = requests.post(server.url + "/up", files={"file": ("big.bin", data)})
    assert raw.json() == {"bytes": len(data), "sha256": digest}
    assert header.json()["bytes"] == 1000
    assert file.json() == {"bytes": len(data), "sha256": digest}  # files beyond the 512KB


CHUNKED_READ = """
import hashlib
import urllib.request

def handler(pd):
    url = pd.steps["trigger"]["event"]["body"]["raw_body_url"]
    digest, size = hashlib.sha256(), 0
    with urllib.request.urlopen(url) as response:
        while chunk := response.read(2**20):
            digest.update(chunk)
            size += len(chunk)
    pd.respond({"status": 200, "body": {"bytes": size, "sha256": digest.hexdigest()}})
"""


def test_a_64mb_upload_read_in_1mb_chunks_fits_the_default_256mb(write_step):
    """The runtime's copy of the body is its own, not the step's: only what the step
    reads counts against --memory (the README's 64MB promise)."""
    import hashlib
    import os

    step = write_step("chunks", CHUNKED_READ)
    data = os.urandom(64 * 2**20)
    with pdee.serve([step], custom_response=True, network="none") as server:
        answer = requests.post(server.url + "/up?pipedream_upload_body=1", data=data,
                               headers={"content-type": "application/octet-stream"})  # fmt: skip
        again = requests.post(server.url + "/up?pipedream_upload_body=1", data=data[:1000])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert again.json()["bytes"] == 1000  # warm, the first body gone
    assert server.result is not None
    first, second = server.result.executions
    assert first.status == "ok" and second.status == "ok", first.error
    assert first.memory is not None and first.memory.peak_bytes < 128 * 2**20, first.memory


RESPONDS = """
def handler(pd):
    body = pd.steps["trigger"]["event"]["body"]
    headers = ["x-a", "b"] if body.get("bad") else {"X-Step": "ok"}
    pd.respond({"status": 201, "headers": headers, "body": "answered"})
"""


def test_a_response_that_cannot_be_sent_is_a_500_and_the_next_request_runs(write_step):
    step = write_step("responds", RESPONDS)
    with pdee.serve([step], custom_response=True, network="none") as server:
        bad = requests.post(server.url + "/", json={"bad": True}, timeout=60)
        good = requests.post(server.url + "/", json={"bad": False}, timeout=60)
    assert bad.status_code == 500 and "\n" not in bad.text
    assert bad.text.endswith("pd.respond's headers are a list; give an object of header "
                             "names to values")  # fmt: skip
    assert good.status_code == 201 and good.text == "answered" and good.headers["x-step"] == "ok"
    assert server.result is not None
    failed, passed = server.result.executions
    assert failed.status == "error" and failed.error is not None
    assert failed.error.type == "InvalidResponse" and "headers are a list" in failed.error.message
    assert passed.status == "ok" and passed.start.value == "warm"  # the same EE went on


DELAYS = """
def handler(pd):
    pd.flow.delay(3_600_000)
"""


def test_a_part_still_to_come_when_serve_stops_is_reported_pending(write_step, tmp_path):
    first = write_step("first", DELAYS)
    second = write_step("second", "def handler(pd):\n    return 2\n")
    report = tmp_path / "serve.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "pdee", "serve", first, second, "--port", "0", "--network",
         "none", "--report", report],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" on ")[1].split()[0]
        assert requests.get(url + "/", timeout=60).status_code == 200
        assert " · #0 " in process.stdout.readline()  # its execution ended: paused
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "1 paused execution was pending when serve stopped" in out
    (paused,) = json.loads(report.read_text())["executions"]
    assert paused["pause"]["outcome"] == "pending" and paused["pause"]["resumed_as"] is None


def test_a_second_ctrl_c_cuts_the_execution_in_flight_and_removes_every_ee(write_step):
    step = write_step("sleeps", "import time\n\ndef handler(pd):\n    time.sleep(60)\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "pdee", "serve", step, "--port", "0", "--custom-response",
         "--network", "none", "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        url = process.stdout.readline().split(" on ")[1].split()[0]
        answer: list[int] = []
        caller = threading.Thread(
            target=lambda: answer.append(requests.get(url + "/", timeout=60).status_code)
        )
        caller.start()
        time.sleep(3)  # a cold start, then the step sleeps
        process.send_signal(signal.SIGINT)
        assert process.stderr.readline().startswith("stopping:")
        time.sleep(0.5)
        again = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        took = time.monotonic() - again
        caller.join(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert took < 15, took  # the EE removed, not the minute waited out
    assert "Interrupted: the executions in flight were cut" in err and "Traceback" not in err
    assert answer == [503]
