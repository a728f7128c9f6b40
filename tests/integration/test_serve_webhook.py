"""pdee serve's HTTP event variants against the real daemon and image: a webhook step that
verifies an HMAC-SHA256 signature over the raw body (``--http-event raw``), its secret
given with ``--inputs``, through the CLI and through ``pdee.serve``."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys

import pytest
import requests

import pdee

pytestmark = pytest.mark.usefixtures("no_new_containers")

SECRET = "whsec_pdee"
# Spacing and key order that a parse and re-serialisation would not keep: only the
# bytes as sent verify.
BODY = b'{"event":  "paid", "amount": 12.50,\n "id": "evt_1"}'

WEBHOOK = """
import hashlib
import hmac


def handler(pd):
    event = pd.steps["trigger"]["event"]
    raw = event["rawHeaders"]
    headers = dict(zip(raw[::2], raw[1::2]))
    secret = pd.inputs["secret"].encode()
    expected = hmac.new(secret, event["bodyRaw"].encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("x-signature", "")):
        pd.respond({"status": 401, "headers": {}, "body": "Invalid credentials"})
        return pd.flow.exit("Invalid credentials")
    pd.respond({"status": 200, "body": {"verified": event["body"]["id"]}})
    return raw[::2]
"""


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Signature": signature}


def test_a_signed_webhook_verified_from_the_raw_request(write_step):
    step = write_step("webhook", WEBHOOK)
    with pdee.serve(
        [step], custom_response=True, http_event="raw", inputs={"secret": SECRET}, network="none"
    ) as server:
        good = requests.post(server.url + "/hook", data=BODY, headers=signed(BODY))
        forged = requests.post(server.url + "/hook", data=BODY, headers=signed(BODY, "guess"))
        # The same data re-serialised: the signature of what was sent no longer holds.
        respaced = json.dumps(json.loads(BODY)).encode()
        changed = requests.post(server.url + "/hook", data=respaced, headers=signed(BODY))
    assert (good.status_code, good.json()) == (200, {"verified": "evt_1"})
    assert (forged.status_code, forged.text) == (401, "Invalid credentials")
    assert changed.status_code == 401
    assert server.result is not None
    first, second, third = server.result.executions
    assert first.status == "ok" and second.status == third.status == "exit"
    names = first.steps["webhook"].return_value
    assert "x-signature" in names and names.index("content-type") < names.index("x-signature")


def test_serve_inputs_on_the_command_line(write_step, tmp_path):
    step = write_step("webhook", WEBHOOK)
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"secret": SECRET}))
    process = subprocess.Popen(
        [sys.executable, "-m", "pdee", "serve", step, "--port", "0", "--custom-response",
         "--http-event", "raw", "--inputs", inputs, "--network", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" on ")[1].split()[0]
        good = requests.post(url + "/hook", data=BODY, headers=signed(BODY), timeout=60)
        forged = requests.post(url + "/hook", data=BODY, headers=signed(BODY, "x"), timeout=60)
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert (good.status_code, good.json()) == (200, {"verified": "evt_1"}), stderr
    assert forged.status_code == 401
    assert "POST /hook 200" in stdout and "POST /hook 401" in stdout
