"""`make bench`: pdee's warm and cold executions against Docker's own baselines.

Everything is measured in this one run, on this machine, and printed as ratios:

- warm execution (a trivial step, round trip through pdee, median of 2,000) vs `docker
  exec CONTAINER python3 -c pass` in a running container: target at most 0.1x;
- a new EE's start (container, runtime, step loaded: `cold_start_ms`, `--no-recycle`)
  vs `docker run --rm IMAGE python3 -c pass`: target at most 1.5x; a cold execution as
  pdee makes it (a used EE made new again, then the execution: `cold_start_ms` +
  `duration_ms`; and the wall gap between 200 cold executions as the caller sees them)
  vs the same `docker run`: target at most 0.3x (issue 22);
- a one-shot `pdee run trivial.py` (start-up, one cold execution on a new EE, the
  report, exit), whole CLI, vs the same `docker run`: target at most 1.2x;
- a warm execution against 0.3 ms: target at most 1.0x; and against the channel's own
  floor, measured here: a round trip over the same attached stream with an echo loop
  behind it, carrying a warm execution's message and reply sizes (no target: it says
  how much of a warm execution is the channel, how much pdee);
- the whole `pdee run trivial.py --events 50`, wall time;
- a realistic run of 1,000 events with `--concurrency 4` (the default 5 s interval,
  and a burst), whole CLI: its cost per event against `docker exec`, target at most
  0.1x (seconds, not minutes, for 1,000 events);
- the scheduler's own cost per event (`simulate`, no container) against a warm
  execution's round trip: target at most 0.05x, negligible;
- preparing a step's packages (PyYAML, six) once they are cached: detection, the cached
  resolution and the check for their image, against `docker exec`: target at most 3x
  (the issue's 0.3 s on a machine whose `docker exec` takes 0.1 s);
- an EE's start with about 72MB of packages (numpy), recycled and new: what it costs
  over the start without packages, against 150 ms: target at most 1.0x (the time the
  EE takes to unpack them, as its runtime does at start, is printed);
- a warm execution with the exact peaks (/tmp sampled, the processes' memory
  high-water marks reset and read) against one without them, in alternating rounds of
  the same run: target at most 1.1x;
- ``pdee check`` of a trivial step, whole (both runs and the verdicts), median of 3,
  against 1 s (issue 22): target at most 1.0x;
- a data store write and a read from a warm step, end to end (timed in the step over
  500 calls each), against the issue's 1 ms: at most 1.0x; and a warm execution of a
  step given a store it never calls against one given none, alternating: at most 1.1x;
- ``pdee serve``: a warm request's round trip (client to response, custom response)
  against the issue's 3 ms, and beside a warm ``pdee run`` execution; 2,000 requests
  from 8 keep-alive Python clients on ``--concurrency 4``: zero errors, requests per
  second and p99 printed;
- pdee's own memory (peak RSS of the whole CLI, ``--report`` written) for 100,000
  trivial executions and for 200 executions that print 1MB each, against the issue's
  150MB and 250MB (with a one-execution run's RSS as the baseline): at most 1.0x.
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pdee
from pdee.backends.channel import AttachedStream
from pdee.backends.docker import DockerBackend
from pdee.engine.runner import Runner
from pdee.lifecycle.scheduler import Policy, arrival_times, simulate
from pdee.plan.requirements import requirements
from pdee.provision import packages
from pdee.provision.image import DEFAULT_TAG
from pdee.results.log import ExecutionLog
from pdee.results.records import Execution

TRIVIAL = "def handler(pd):\n    return 1\n"


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def docker_exec_s(image: str, repeats: int) -> float:
    name = f"pdee-bench-{int(time.time())}"
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "--entrypoint", "sleep", image, "300"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        timed(["docker", "exec", name, "python3", "-c", "pass"])  # warm-up
        return statistics.median(
            timed(["docker", "exec", name, "python3", "-c", "pass"]) for _ in range(repeats)
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL)


ECHO = (
    "import sys\n"
    "out = sys.stdout.buffer\n"
    "for line in sys.stdin.buffer:\n"
    "    out.write(line.rstrip(b'\\n') + b'x' * (REPLY - len(line)) + b'\\n'); out.flush()\n"
)


def channel_floor_s(image: str, message_bytes: int, reply_bytes: int, repeats: int) -> float:
    """A round trip over the channel pdee talks to an EE through (the container's
    attached stdin and stdout, through the daemon) with nothing behind it but a Python
    loop that answers each line at once: a warm execution's messages and reply, in size,
    with no supervisor, step process or records."""
    with DockerBackend.connect() as backend:
        client = backend.client
        container = client.containers.create(
            image,
            entrypoint=["python3", "-S", "-c", ECHO.replace("REPLY", str(reply_bytes))],
            stdin_open=True,
            network_mode="none",
            labels={"pdee.bench": "floor"},
        )
        try:
            stream = AttachedStream(
                client.api.attach_socket(
                    str(container.id), params={"stdin": 1, "stdout": 1, "stream": 1}
                )
            )
            container.start()
            line = b"m" * (message_bytes - 1) + b"\n"
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                stream.send(line)
                stream.read_line(time.monotonic() + 10)
                times.append(time.perf_counter() - started)
            stream.close()
            return statistics.median(times[repeats // 10 :])
        finally:
            container.remove(force=True)


def warm_message_sizes(step: Path) -> tuple[int, int]:
    """The bytes of a warm execution's run message and of the lines it gets back (the
    reply, and the step's start), as they cross the channel, median of 50."""
    sent: list[int] = []
    received: list[int] = []
    send, read_line = AttachedStream.send, AttachedStream.read_line

    def counted_send(stream: AttachedStream, data: bytes) -> None:
        sent.append(len(data))
        send(stream, data)

    def counted_read(stream: AttachedStream, deadline: float) -> bytes | None:
        line = read_line(stream, deadline)
        received.append(len(line or b"") + 1)
        return line

    with (
        mock.patch.object(AttachedStream, "send", counted_send),
        mock.patch.object(AttachedStream, "read_line", counted_read),
    ):
        pdee_per_execution_s(step, "warm", events=52)
    runs = sent[-50:]  # the run messages, after the load
    return int(statistics.median(runs)), sum(received[-100:]) // 50


def docker_run_s(image: str, repeats: int) -> float:
    command = ["docker", "run", "--rm", "--entrypoint", "python3", image, "-c", "pass"]
    timed(command)
    return statistics.median(timed(command) for _ in range(repeats))


def pdee_per_execution_s(
    step: Path, mode: str, events: int, recycle: bool = True
) -> tuple[list[float], ExecutionLog]:
    """Wall time between consecutive executions as pdee's caller sees them, and the records."""
    stamps = [time.perf_counter()]
    result = pdee.run(
        [step],
        events=events,
        mode=mode,
        interval=0,
        network="none",
        recycle=recycle,
        on_execution=lambda _execution: stamps.append(time.perf_counter()),
    )
    return [b - a for a, b in itertools.pairwise(stamps)], result.executions


def _stamper(stamps: list[float]) -> Callable[[Execution], None]:
    """An ``on_execution`` that notes when each execution ends."""
    return lambda _execution: stamps.append(time.perf_counter())


def warm_with_and_without_peaks_s(step: Path, rounds: int, events: int) -> tuple[float, float]:
    """Median warm execution with the exact peaks measured, and without, alternating."""
    gaps: dict[bool, list[float]] = {True: [], False: []}
    plan = pdee.build_plan([step], events=events, mode="warm", interval=0, network="none")
    with DockerBackend.connect() as backend:
        for _ in range(rounds):
            for measure in (True, False):
                stamps: list[float] = []
                runner = Runner(backend, plan, _stamper(stamps))
                runner.work.measure = measure
                runner.run()
                gaps[measure] += [b - a for a, b in itertools.pairwise(stamps)]
    return statistics.median(gaps[True]), statistics.median(gaps[False])


RSS_OF = (
    "import resource, subprocess, sys;"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def cli_rss_mb(step: Path, report: Path, *options: str) -> float:
    """Peak RSS of a whole ``pdee run`` that writes its report, in MB."""
    command = [sys.executable, "-c", RSS_OF, sys.executable, "-m", "pdee", "run", str(step)]
    command += ["-q", "--seed", "1", "--network", "none", "--report", str(report), *options]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]) / 1024


def cli_s(step: Path, *options: str) -> float:
    """Wall time of a whole ``pdee run`` (a fixed seed, quiet)."""
    return timed([sys.executable, "-m", "pdee", "run", str(step), "-q", "--seed", "1", *options])


def check_once_s(step: Path) -> float:
    started = time.perf_counter()
    assert pdee.check([step], network="none", seed=1).safe
    return time.perf_counter() - started


def scheduler_per_event_s(events: int) -> float:
    """The scheduler's decisions alone: 4 EEs, 1 % chaos, Poisson arrivals, fake durations."""
    policy = Policy(concurrency=4, seed=1)
    arrivals = arrival_times(events, seed=1, rate_per_minute=600)
    started = time.perf_counter()
    simulate(policy, arrivals, lambda index: 0.05 + (index % 7) * 0.1)
    return (time.perf_counter() - started) / events


PACKAGED = "import yaml\nimport six\n\ndef handler(pd):\n    return yaml.__version__\n"


def packages_cache_hit_s(step: Path, repeats: int) -> float:
    """What a run spends on its packages once they are cached and their image is built."""
    pdee.run([step], network="none", mode="cold")  # fetches and builds, once
    plan = pdee.build_plan([step])

    def prepare() -> float:
        started = time.perf_counter()
        with DockerBackend.connect() as backend:
            image = backend.image(DEFAULT_TAG)
            wanted = requirements(plan.steps)
            fetched = packages.fetch(wanted, image.python or "3", offline=True)
            backend.package_image(packages.package_image(image, fetched), lambda _line: None)
        return time.perf_counter() - started

    return statistics.median(prepare() for _ in range(repeats))


# numpy is installed (add-package) but not imported: the start pays the unpacking, not an
# import. The step times, in its EE, the same unpacking the runtime does at start.
COPIES = """
import os, subprocess, time
# pipedream add-package numpy

def handler(pd):
    os.makedirs("/tmp/copy")
    started = time.perf_counter()
    subprocess.run(["tar", "-x", "-p", "-f", "/opt/pdee/packages.tar", "-C", "/tmp/copy"])
    return time.perf_counter() - started
"""


def cold_start_with_packages_s(step: Path, events: int, recycle: bool) -> tuple[float, float, int]:
    """An EE's start with numpy (new containers, or recycled ones), the time its EE takes
    to unpack the packages, their bytes."""
    pdee.run([step], network="none", mode="cold")  # fetches and builds, once
    result = pdee.run(
        [step], events=events + 1, mode="cold", interval=0, network="none", recycle=recycle
    )
    executions = result.executions[1:]  # the first start is a new container either way
    starts = [e.cold_start_ms or 0.0 for e in executions]
    copies = [float(e.steps[step.stem].return_value) for e in executions]
    packages_bytes = executions[0].tmp.packages_bytes if executions[0].tmp else 0
    return statistics.median(starts) / 1000, statistics.median(copies), packages_bytes


STORE_CALLS = """
import time

def handler(pd):
    store = pd.inputs["data_store"]
    started = time.perf_counter()
    for n in range(500):
        store["key"] = n
    wrote = time.perf_counter()
    for n in range(500):
        store["key"]
    return [(wrote - started) / 500, (time.perf_counter() - wrote) / 500]
"""


def store_call_s(step: Path) -> tuple[float, float]:
    """A data store write and read from a warm step, end to end (step -> worker ->
    supervisor -> attached stdio -> SQLite on the host -> back), timed in the step."""
    result = pdee.run(
        [step], events=4, mode="warm", interval=0, network="none", data_stores={"data_store": None}
    )
    write_s, read_s = result.executions[-1].steps[step.stem].return_value
    return float(write_s), float(read_s)


def warm_with_and_without_a_store_s(step: Path, rounds: int, events: int) -> tuple[float, float]:
    """Median warm execution of a step that makes no store call, with a store prop given
    and without one, in alternating rounds."""
    gaps: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for with_store in (True, False):
            stores = {"data_store": None} if with_store else None
            stamps: list[float] = []
            pdee.run(
                [step],
                events=events,
                mode="warm",
                interval=0,
                network="none",
                data_stores=stores,
                on_execution=_stamper(stamps),
            )
            gaps[with_store] += [b - a for a, b in itertools.pairwise(stamps)]
    return statistics.median(gaps[True]), statistics.median(gaps[False])


SERVED = "def handler(pd):\n    pd.respond({'status': 200, 'body': 'ok'})\n"


def served_round_trip_s(step: Path, requests_count: int) -> float:
    """Median round trip of a warm request to ``pdee serve`` (custom response: the
    caller waits for the execution), from one keep-alive client."""
    import requests

    with pdee.serve([step], custom_response=True, network="none") as server:
        session = requests.Session()
        session.get(server.url + "/")  # the cold start
        times = []
        for _ in range(requests_count):
            started = time.perf_counter()
            session.get(server.url + "/").raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def served_load(step: Path, total: int, connections: int) -> tuple[int, float, float]:
    """``total`` requests from ``connections`` keep-alive clients at once on
    ``--concurrency 4``: errors, requests per second, p99 latency (s)."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    latencies: list[float] = []
    errors = 0
    with pdee.serve([step], custom_response=True, concurrency=4, network="none") as server:

        def client(count: int) -> None:
            nonlocal errors
            session = requests.Session()
            for _ in range(count):
                started = time.perf_counter()
                try:
                    ok = session.get(server.url + "/").status_code == 200
                except requests.RequestException:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        started = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            list(pool.map(client, [total // connections] * connections))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return errors, len(latencies) / elapsed, latencies[int(len(latencies) * 0.99) - 1]


def main() -> int:
    image = DEFAULT_TAG
    with tempfile.TemporaryDirectory() as tmp:
        step = Path(tmp) / "trivial.py"
        step.write_text(TRIVIAL)
        packaged = Path(tmp) / "packaged.py"
        packaged.write_text(PACKAGED)
        copies = Path(tmp) / "copies.py"
        copies.write_text(COPIES)
        exec_s = docker_exec_s(image, repeats=15)
        run_s = docker_run_s(image, repeats=7)
        warm = pdee_per_execution_s(step, "warm", events=2001)[0][1:]  # drop the cold start
        floor_s = channel_floor_s(image, *warm_message_sizes(step), repeats=2000)
        peaks_s, no_peaks_s = warm_with_and_without_peaks_s(step, rounds=10, events=101)
        _, new_records = pdee_per_execution_s(step, "cold", events=8, recycle=False)
        # What one new EE takes to start (container, runtime, step loaded), as reported;
        # standby EEs start while earlier executions run, so the gaps are shorter.
        ee_start_s = statistics.median(r.cold_start_ms or 0.0 for r in new_records) / 1000
        # Cold executions as pdee makes them: the first EE new, the others recycled.
        cold, cold_records = pdee_per_execution_s(step, "cold", events=201)
        cold = cold[1:]  # the first is a new container
        recycled_s = (
            statistics.median(
                (r.cold_start_ms or 0.0) + r.duration_ms for r in list(cold_records)[1:]
            )
            / 1000
        )
        one_shot_s = statistics.median(
            cli_s(step, "--network", "none", "--report", str(Path(tmp) / "one.json"))
            for _ in range(7)
        )
        cli50_s = cli_s(step, "--events", "50")
        realistic_s = cli_s(step, "--events", "1000", "--concurrency", "4")
        burst_s = cli_s(step, "--events", "1000", "--concurrency", "4", "--interval", "0")
        packages_s = packages_cache_hit_s(packaged, repeats=7)
        check_s = statistics.median(check_once_s(step) for _ in range(3))
        noisy = Path(tmp) / "noisy.py"
        noisy.write_text('def handler(pd):\n    print("n" * (2**20 - 1))\n')
        burst = ("--mode", "warm", "--interval", "0")
        report = Path(tmp) / "report.json"
        rss_one = cli_rss_mb(step, report, *burst)
        rss_100k = cli_rss_mb(step, report, "--events", "100000", "--concurrency", "4", *burst)
        rss_logs = cli_rss_mb(noisy, report, "--events", "200", *burst)
        numpy_start_s, copy_s, numpy_bytes = cold_start_with_packages_s(copies, 8, True)
        new_numpy_start_s, _, _ = cold_start_with_packages_s(copies, 4, False)
        recycled_start_s = (
            statistics.median(r.cold_start_ms or 0.0 for r in list(cold_records)[1:]) / 1000
        )
        store_step = Path(tmp) / "store_calls.py"
        store_step.write_text(STORE_CALLS)
        store_write_s, store_read_s = store_call_s(store_step)
        with_store_s, without_store_s = warm_with_and_without_a_store_s(step, 10, 101)
        served = Path(tmp) / "served.py"
        served.write_text(SERVED)
        served_s = served_round_trip_s(served, 300)
        load_errors, load_rps, load_p99_s = served_load(served, 2000, 8)
    scheduler_s = scheduler_per_event_s(100_000)
    warm_s, cold_s = statistics.median(warm), statistics.median(cold)
    rows = [
        ("docker exec python3 -c pass (baseline)", exec_s * 1000, None, None),
        ("pdee warm execution (median of 2,000)", warm_s * 1000, warm_s / exec_s, 0.1),
        ("pdee warm execution (vs 0.3 ms)", warm_s * 1000, warm_s / 0.3e-3, 1.0),
        ("channel round trip, an echo behind it (floor)", floor_s * 1000, None, None),
        ("pdee warm execution vs that floor", warm_s * 1000, warm_s / floor_s, None),
        ("warm execution without exact peaks (baseline)", no_peaks_s * 1000, None, None),
        ("warm execution with exact peaks", peaks_s * 1000, peaks_s / no_peaks_s, 1.1),
        ("docker run --rm python3 -c pass (baseline)", run_s * 1000, None, None),
        ("new EE start, --no-recycle (median of 8)", ee_start_s * 1000, ee_start_s / run_s, 1.5),
        ("recycled EE start, cold_start_ms (median of 200)", recycled_start_s * 1000, None, None),
        ("cold execution, start + run (median of 200)", recycled_s * 1000, recycled_s / run_s, 0.3),
        ("cold execution, wall gap (median of 200)", cold_s * 1000, cold_s / run_s, 0.3),
        ("one-shot pdee run trivial.py (median of 7)", one_shot_s * 1000, one_shot_s / run_s, 1.2),
        (
            "realistic 1,000 events, concurrency 4, per event",
            realistic_s,  # s per 1,000 events = ms per event
            realistic_s / 1000 / exec_s,
            0.1,
        ),
        ("same, as a burst (--interval 0), per event", burst_s, burst_s / 1000 / exec_s, 0.1),
        (
            "packages on a cache hit, per run (median of 7)",
            packages_s * 1000,
            packages_s / exec_s,
            3.0,
        ),
        (
            f"recycled EE start, {numpy_bytes / 2**20:.0f}MB of packages: extra ms (vs 150)",
            (numpy_start_s - recycled_start_s) * 1000,
            (numpy_start_s - recycled_start_s) / 0.150,
            1.0,
        ),
        (
            f"new EE start, {numpy_bytes / 2**20:.0f}MB of packages: extra ms (vs 150)",
            (new_numpy_start_s - ee_start_s) * 1000,
            (new_numpy_start_s - ee_start_s) / 0.150,
            1.0,
        ),
        ("pdee check, trivial step (vs 1 s)", check_s * 1000, check_s / 1.0, 1.0),
        (
            "data store write from a warm step (vs 1 ms)",
            store_write_s * 1000,
            store_write_s / 1e-3,
            1.0,
        ),
        (
            "data store read from a warm step (vs 1 ms)",
            store_read_s * 1000,
            store_read_s / 1e-3,
            1.0,
        ),
        ("warm execution, no store given (baseline)", without_store_s * 1000, None, None),
        (
            "warm execution, a store given but not called",
            with_store_s * 1000,
            with_store_s / without_store_s,
            1.1,
        ),
        ("pdee serve: warm request round trip (vs 3 ms)", served_s * 1000, served_s / 3e-3, 1.0),
        ("same, vs a warm pdee run execution", served_s * 1000, served_s / warm_s, None),
        ("pdee RSS, 1 execution, MB (baseline)", rss_one, None, None),
        ("pdee RSS, 100,000 executions, MB (vs 150MB)", rss_100k, rss_100k / 150, 1.0),
        ("pdee RSS, 200 x 1MB of logs, MB (vs 250MB)", rss_logs, rss_logs / 250, 1.0),
        (
            "scheduler alone, per event (vs warm execution)",
            scheduler_s * 1000,
            scheduler_s / warm_s,
            0.05,
        ),
    ]
    print(f"{'measure':48} {'ms (MB)':>9} {'ratio':>8} {'target':>8}")
    failed = False
    for name, ms, ratio, target in rows:
        verdict = ""
        if ratio is not None and target is not None:
            verdict = "ok" if ratio <= target else "MISSED"
            failed |= ratio > target
        print(
            f"{name:48} {ms:9.2f} {ratio if ratio is not None else '':>8.3} "
            f"{target if target is not None else '':>8} {verdict}".replace("  None", "")
        )
    print(
        f"EE start without packages: new {ee_start_s * 1000:.0f} ms, recycled "
        f"{recycled_start_s * 1000:.1f} ms; with {numpy_bytes / 2**20:.0f}MB of packages: new "
        f"{new_numpy_start_s * 1000:.0f} ms, recycled {numpy_start_s * 1000:.0f} ms; "
        f"unpacking them in the EE {copy_s * 1000:.0f} ms"
    )
    print(f"pdee run trivial.py --events 50 (whole CLI): {cli50_s:.2f} s")
    print(f"pdee run trivial.py --events 1000 --concurrency 4: {realistic_s:.2f} s")
    print(f"pdee run trivial.py --events 1000 --concurrency 4 --interval 0: {burst_s:.2f} s")
    print(
        f"pdee serve --concurrency 4, 2,000 requests from 8 keep-alive clients: "
        f"{load_errors} errors, {load_rps:.0f} requests/s, p99 {load_p99_s * 1000:.1f} ms"
    )
    failed |= load_errors > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
