"""JUnit XML for CI systems (GitHub Actions' test reporters, GitLab's
``artifacts:reports:junit``), written with junitparser, a well-kept JUnit library.

- ``pdee run --junit``: one test case per execution, named by its index, start and
  EE; a failed execution is a ``<failure>`` with the error's type, message and
  traceback; the steps' logs are its ``<system-out>``.
- ``pdee check --junit``: one test case per scenario; a failed verdict is a
  ``<failure>``, a skipped one ``<skipped>``, a warning a pass whose ``<system-out>``
  says so. A project's check: one ``<testsuite>`` per workflow, named by its name.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from xml.parsers.expat import ExpatError

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from ..checking.project import ProjectCheck
from ..checking.verdicts import CheckResult, Outcome
from ..results.records import Execution, RunResult, Status
from .files import write_whole

# What XML 1.0 cannot hold (control characters such as a log's colour codes, lone
# surrogates): written as Python escapes (\x1b), as pytest's JUnit writer does.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A test case's <system-out> keeps the logs' last characters: CI pages show no more,
# and the whole logs are in --report.
SYSTEM_OUT_CHARS = 64 * 1024


def _xml(text: str) -> str:
    """``text`` with what XML cannot hold written as Python escapes."""
    return NOT_XML.sub(lambda found: ascii(found.group())[1:-1], text)


def _logs(execution: Execution) -> str:
    parts = []
    for name, step in execution.steps.items():
        if step.logs:
            parts.append(f"--- step {name} ---\n{step.logs}")
    text = "".join(parts)
    if len(text) > SYSTEM_OUT_CHARS:
        text = "... (the logs' start is in --report)\n" + text[-SYSTEM_OUT_CHARS:]
    return text


def _failure(execution: Execution) -> Failure:
    error = execution.error
    if error is None:
        return Failure(execution.status.value, execution.status.value)
    where = f" (step {error.step})" if error.step else ""
    failure = Failure(_xml(f"{error.message}{where}"), _xml(error.type))
    failure.text = _xml(error.traceback or error.message)
    return failure


def run_xml(result: RunResult) -> JUnitXml:
    """The JUnit report of a run: one test case per execution."""
    steps = "+".join(result.settings.steps)
    suite = TestSuite(_xml(f"pdee run {steps}"))
    for execution in result.executions:
        ran = execution.status is not Status.DROPPED  # a dropped one never started
        case = TestCase(
            f"execution {execution.index} ({execution.start.value}, {execution.ee})"
            if ran
            else f"execution {execution.index} (dropped)",
            classname=_xml(f"pdee.run.{steps}"),
            time=execution.duration_ms / 1000,
        )
        if execution.failed:  # a failed part a retry followed: the retry's case judges
            case.result = [_failure(execution)]
        logs = _logs(execution)
        if execution.retried:
            logs = f"{execution.flow} ({_failure(execution).message})\n{logs}"
        if logs:
            case.system_out = _xml(logs)
        suite.add_testcase(case)
    suite.time = sum(e.duration_ms for e in result.executions) / 1000
    xml = JUnitXml()
    xml.add_testsuite(suite)
    return xml


def check_xml(result: CheckResult) -> JUnitXml:
    """The JUnit report of a check: one test case per scenario."""
    xml = JUnitXml()
    xml.add_testsuite(check_suite(result))
    return xml


def project_xml(result: ProjectCheck) -> JUnitXml:
    """The JUnit report of a project's check: one suite per workflow checked, named by
    the workflow's name."""
    xml = JUnitXml()
    for checked in result.workflows:
        if checked.result is not None:
            xml.add_testsuite(check_suite(checked.result))
    return xml


def check_suite(result: CheckResult) -> TestSuite:
    """One check as a suite: one test case per scenario."""
    settings = next(iter(result.runs.values())).settings
    steps = "+".join(settings.steps)
    name = settings.workflow["name"] if settings.workflow else steps
    suite = TestSuite(_xml(name if settings.workflow else f"pdee check {steps}"))
    for verdict in result.verdicts:
        case = TestCase(verdict.scenario, classname=_xml(f"pdee.check.{name}"))
        if verdict.outcome is Outcome.FAIL:
            failure = Failure(_xml(verdict.summary), verdict.scenario)
            execution = verdict.execution
            if execution is not None and execution.error and execution.error.traceback:
                failure.text = _xml(execution.error.traceback)
            case.result = [failure]
        elif verdict.outcome is Outcome.SKIPPED:
            case.result = [Skipped(_xml(verdict.summary))]
        else:
            case.system_out = _xml(f"{verdict.outcome.value}: {verdict.summary}")
        if verdict.execution is not None and verdict.outcome is Outcome.FAIL:
            logs = _logs(verdict.execution)
            if logs:
                case.system_out = _xml(logs)
        suite.add_testcase(case)
    suite.time = result.duration_s
    return suite


def write(path: Path, xml: JUnitXml) -> None:
    """Write ``xml`` to ``path``, whole or not at all.

    Raises:
        UsageError: the file cannot be written.
        PdeeError: a text in it cannot be written as XML.
    """
    write_whole(path, "JUnit file", _rendered(xml))


def _rendered(xml: JUnitXml) -> Iterator[str]:
    buffer = io.BytesIO()
    try:
        xml.write(buffer, pretty=True)
    except ExpatError as exc:  # junitparser re-reads what it made to indent it
        raise ValueError(f"not XML: {exc}") from exc
    yield buffer.getvalue().decode()
