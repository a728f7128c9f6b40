"""The EE's sandbox: read-only root, the platform's user, exec from /tmp, no network."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

PROBE = """
import errno, getpass, os, subprocess

def try_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "written"
    except OSError as exc:
        return errno.errorcode[exc.errno]

def handler(pd):
    script = "/tmp/tool.sh"
    with open(script, "w") as f:
        f.write("#!/bin/sh\\necho ran from tmp $1\\n")
    os.chmod(script, 0o755)
    ran = subprocess.run([script, "ok"], capture_output=True, text=True, check=True).stdout
    return {
        "user": getpass.getuser(),
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "root": try_write("/pdee-probe"),
        "task": try_write("/var/task/out.txt"),
        "etc": try_write("/etc/probe"),
        "tmp": try_write("/tmp/probe"),
        "ran": ran,
    }
"""


def test_only_tmp_is_writable_and_executable(pdee, write_step):
    outcome = pdee("run", write_step("probe", PROBE))
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    result = outcome.executions[0]["steps"]["probe"]["return_value"]
    assert (result["user"], result["uid"]) == ("sbx_user1051", 1051)
    assert result["cwd"] == "/var/task"
    assert result["root"] in ("EROFS", "EACCES")
    assert result["task"] in ("EROFS", "EACCES")
    assert result["etc"] in ("EROFS", "EACCES")
    assert result["tmp"] == "written"
    assert result["ran"] == "ran from tmp ok\n"


def test_network_none_cuts_the_step_off(pdee, write_step):
    step = write_step(
        "net",
        """
        import socket

        def handler(pd):
            try:
                socket.create_connection(("127.0.0.1", 9), timeout=2)
            except OSError as exc:
                return type(exc).__name__
            return "connected"
    """,
    )
    outcome = pdee("run", step, "--network", "none")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.executions[0]["steps"]["net"]["return_value"] == "ConnectionRefusedError"
    assert outcome.report["settings"]["network"] == "none"
