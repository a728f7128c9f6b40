"""A recycled EE (a used container made fresh again) must be, to the step, an EE started
for it: the same /tmp tree, sizes and modes, and free space, no process of an earlier
execution, fresh module globals, the same environment, user, open files and listening
sockets, and step memory that starts from the same figure. Against the real daemon."""

from __future__ import annotations

import pytest

import pdee

pytestmark = pytest.mark.usefixtures("no_new_containers")

FINGERPRINT = r"""
import os
import socket
import stat
import subprocess
import threading

executions = 0  # a module global: 1 in a fresh EE


def _tree(root):
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(folder, name)
            st = os.lstat(path)
            size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
            found.append([path, stat.filemode(st.st_mode), size, st.st_uid, st.st_gid])
    return found


def _processes():
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode().strip()
            with open(f"/proc/{pid}/status") as f:
                uid = next(l.split()[1] for l in f if l.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        found.append([uid, command])
    return sorted(found)


def _descriptors():
    kinds = []
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        kinds.append([int(fd), target.split(":[")[0]])  # pipe:[inode] -> pipe
    return kinds


def _listening():
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/net/{table}") as f:
            for line in list(f)[1:]:
                fields = line.split()
                if table.startswith("udp") or fields[3] == "0A":
                    found.append([table, fields[1]])
    return sorted(found)


def _memory():
    fields = {}
    for path in ("/sys/fs/cgroup/memory.stat", "/sys/fs/cgroup/memory/memory.stat"):
        try:
            with open(path) as f:
                fields = dict(line.split() for line in f)
            break
        except OSError:
            continue
    return int(fields.get("anon", fields.get("total_rss", 0)))


def _ipc():
    entries = 0
    for kind in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{kind}") as f:
            entries += len(f.readlines()) - 1
    return entries


def handler(pd):
    global executions
    executions += 1
    tmp = os.statvfs("/tmp")
    seen = {
        "globals": executions,
        "tmp": _tree("/tmp"),
        "tmp_free": tmp.f_bfree,
        "tmp_files_free": tmp.f_ffree,
        "processes": _processes(),
        # HOSTNAME is the container's id: another in any new container too
        "env": {k: v for k, v in os.environ.items() if k != "HOSTNAME"},
        "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), os.getcwd()],
        "fds": _descriptors(),
        "listening": _listening(),
        "ipc": _ipc(),
        "umask": os.umask(0o022),
    }
    memory = _memory()
    # Now leave everything an EE can be left with.
    os.makedirs("/tmp/left/locked", exist_ok=True)
    with open("/tmp/left/locked/big", "wb") as f:
        f.write(os.urandom(1 << 20))
    with open("/tmp/.hidden", "w") as f:
        f.write("x")
    os.chmod("/tmp/left/locked", 0)
    os.chmod("/tmp/left", 0o500)
    os.symlink("/etc/passwd", "/tmp/link")
    os.mkfifo("/tmp/fifo")
    held = open("/tmp/deleted-but-open", "wb")
    held.write(b"y" * (1 << 20))
    held.flush()
    os.unlink("/tmp/deleted-but-open")
    subprocess.Popen(["sleep", "600"], start_new_session=True)
    subprocess.Popen(["sh", "-c", "sleep 600 & sleep 600"])
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    globals()["held"] = (held, server, bytearray(32 << 20))  # memory kept by the process
    os.environ["LEFT_BEHIND"] = "1"
    return {"seen": seen, "memory": memory}
"""


def test_a_recycled_ee_is_a_fresh_ee_to_the_step(write_step):
    step = write_step("fingerprint", FINGERPRINT)
    result = pdee.run([step], events=6, mode="cold", network="none", interval=0, seed=1)
    assert [e.status.value for e in result.executions] == ["ok"] * 6, [
        e.error for e in result.executions
    ]
    recycled = {ee.id for ee in result.ees.values() if ee.recycled}
    new = [e for e in result.executions if e.ee not in recycled]
    reused = [e for e in result.executions if e.ee in recycled]
    assert new and len(reused) >= 3, "the cold run recycled too few EEs to compare"
    first = new[0].steps["fingerprint"].return_value
    for execution in reused:
        assert execution.start.value == "cold" and execution.cold_start_ms is not None
        seen = execution.steps["fingerprint"].return_value
        for key, value in first["seen"].items():
            assert seen["seen"][key] == value, (key, execution.index)
        assert abs(seen["memory"] - first["memory"]) < 8 * 2**20, (first, seen)


def test_a_cold_run_of_200_sees_an_empty_tmp_and_fresh_globals_every_time(write_step):
    step = write_step(
        "dirty",
        """
        import os

        count = 0

        def handler(pd):
            global count
            count += 1
            mine = [n for n in os.listdir("/tmp") if n != "__pdg__"]
            with open(f"/tmp/left-{pd.steps['trigger']['context']['id']}", "w") as f:
                f.write("x")
            return {"count": count, "left": mine}
        """,
    )
    result = pdee.run([step], events=200, mode="cold", network="none", interval=0, seed=2)
    values = [e.steps["dirty"].return_value for e in result.executions]
    assert values == [{"count": 1, "left": []}] * 200
    assert sum(ee.recycled for ee in result.ees.values()) >= 150  # most starts recycled
