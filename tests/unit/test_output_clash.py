"""Outputs never overwrite inputs: what a command reads (``plan.input_files``), the
refusal of an output that is one of those files or another output
(``outputs.files.refuse_clashes``: by inode through symlinks and hard links, by resolved
path where a file does not exist yet), and each command refusing before any EE, with
exit 2 and the input intact. No Docker: a daemon reached here fails the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pdee.backends.docker import DockerBackend
from pdee.cli import app
from pdee.errors import UsageError
from pdee.outputs.files import refuse_clashes
from pdee.plan.input_files import InputFile, input_files

STEP = "def handler(pd):\n    return 1\n"
WORKFLOW = """\
schema: workflow/2022.04
name: {name}
steps:
  - namespace: fetch
    runtime: python3.12
    uses: ./fetch/entry.py
  - namespace: notify
    runtime: nodejs20.x
    uses: slack-send-message
"""


@pytest.fixture
def step(tmp_path: Path) -> Path:
    path = tmp_path / "s.py"
    path.write_text(STEP)
    return path


def workflow(folder: Path, name: str = "orders") -> Path:
    (folder / "fetch").mkdir(parents=True)
    (folder / "fetch" / "entry.py").write_text(STEP)
    (folder / "workflow.yaml").write_text(WORKFLOW.format(name=name))
    return folder


def listed(found: list[InputFile]) -> list[tuple[str, str, str]]:
    return [(f.option, str(f.path), f.named) for f in found]


# --- what a command reads -------------------------------------------------------------


def test_step_files_and_every_file_option_are_listed(tmp_path):
    found = input_files(
        ["a.py", Path("b.py")],
        {
            "event_file": "ev.json",
            "schedule": Path("hits.jsonl"),
            "inputs": "in.json",
            "env_file": ".env",
            "data_stores": ["scratch", "orders=o.db"],
            "step_results": ["notify=@n.json", 'post={"ok": true}'],
            "resume_data": "@r.json",
            "event": '{"a": 1}',  # inline: no file
            "memory": "256MB",
        },
    )
    assert listed(found) == [
        ("STEPS", "a.py", "the step file a.py"),
        ("STEPS", "b.py", "the step file b.py"),
        ("--event-file", "ev.json", "--event-file ev.json"),
        ("--schedule", "hits.jsonl", "--schedule hits.jsonl"),
        ("--inputs", "in.json", "--inputs in.json"),
        ("--env-file", ".env", "--env-file .env"),
        ("--data-store", "o.db", "--data-store orders=o.db"),
        ("--data-store", "o.db-wal", "the write-ahead log of --data-store orders=o.db"),
        ("--data-store", "o.db-shm", "the shared-memory index of --data-store orders=o.db"),
        ("--data-store", "o.db-journal", "the rollback journal of --data-store orders=o.db"),
        ("--step-result", "n.json", "--step-result notify=@n.json"),
        ("--resume-data", "r.json", "--resume-data @r.json"),
    ]


def test_what_the_api_gives_as_data_is_no_file():
    found = input_files(
        ["a.py"],
        {
            "inputs": {"url": "x"},
            "data_stores": {"orders": "o.db", "scratch": None},
            "step_results": {"notify": "@not-a-file"},
            "resume_data": {"ok": True},
            "event_file": None,
        },
    )
    assert [str(f.path) for f in found] == ["a.py", "o.db", "o.db-wal", "o.db-shm", "o.db-journal"]


def test_a_workflow_folder_lists_its_yaml_state_and_python_steps(tmp_path):
    folder = workflow(tmp_path / "orders-p_abc")
    (folder / ".workflow.state").write_text("id: p_abc\n")
    assert listed(input_files([folder], {})) == [
        ("STEPS", f"{folder}/workflow.yaml", f"the workflow file {folder}/workflow.yaml"),
        ("STEPS", f"{folder}/.workflow.state", f"the workflow state file {folder}/.workflow.state"),
        ("STEPS", f"{folder}/fetch/entry.py", f"step fetch's code {folder}/fetch/entry.py"),
    ]


def test_a_project_lists_every_workflow_and_a_broken_one_its_yaml(tmp_path):
    workflow(tmp_path / "project" / "a", "a")
    workflow(tmp_path / "project" / "nested" / "b", "b")
    broken = tmp_path / "project" / "c"
    broken.mkdir()
    (broken / "workflow.yaml").write_text("schema: [unclosed\n")
    paths = [
        f.path.relative_to(tmp_path / "project") for f in input_files([tmp_path / "project"], {})
    ]
    assert [str(p) for p in paths] == [
        "a/workflow.yaml", "a/fetch/entry.py",
        "c/workflow.yaml",
        "nested/b/workflow.yaml", "nested/b/fetch/entry.py",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "options",
    [
        {"event_file": 5, "data_stores": "orders=o.db", "step_results": "x=@y"},
        {"data_stores": [7, "=", "a="], "step_results": [None, "x=@"], "resume_data": "@"},
        {"schedule": "", "env_file": b"raw"},
    ],
)
def test_listing_never_fails_on_what_the_plan_refuses(options):
    assert [str(f.path) for f in input_files(["a.py"], options)] == ["a.py"]


# --- the refusal ----------------------------------------------------------------------


def refused(outputs: list[tuple[str, Path]], inputs: list[InputFile]) -> str:
    with pytest.raises(UsageError) as caught:
        refuse_clashes(outputs, inputs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_an_output_that_is_the_step_file_is_refused_naming_both(step, monkeypatch):
    monkeypatch.chdir(step.parent)
    message = refused([("--report", Path("s.py"))], input_files(["s.py"], {}))
    assert message == (
        "--report s.py is the step file s.py: pdee would overwrite its input; give another path"
    )


def test_other_spellings_symlinks_and_hard_links_are_the_same_file(step, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = input_files([step], {})
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.json").symlink_to(step)
    (tmp_path / "linked-dir").symlink_to(tmp_path)
    os.link(step, tmp_path / "hard.json")
    for spelling in ["s.py", "./sub/../s.py", str(step), "link.json", "linked-dir/s.py",
                     "hard.json"]:  # fmt: skip
        message = refused([("--junit", Path(spelling))], inputs)
        shown = Path(spelling)  # as the CLI's option gives it
        assert message.startswith(f"--junit {shown} is the step file {step}:"), message


def test_a_file_not_made_yet_clashes_by_its_resolved_path(step, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = input_files([step], {"data_stores": ["orders=new.db"]})
    (tmp_path / "later").symlink_to(tmp_path / "new.db")  # dangling until the run makes it
    for spelling in ["new.db", f"{tmp_path}/./new.db", "later"]:
        assert "is --data-store orders=new.db:" in refused([("--report", Path(spelling))], inputs)
    assert "the write-ahead log of --data-store orders=new.db" in refused(
        [("--report", Path("new.db-wal"))], inputs
    )


def test_two_outputs_on_one_file_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = refused([("--report", Path("out.x")), ("--junit", tmp_path / "out.x")], [])
    assert message == (
        f"--junit {tmp_path}/out.x is --report out.x too: one would overwrite the other; give each its "
        "own path"
    )
    assert not (tmp_path / "out.x").exists()


def test_distinct_files_and_streams_pass(step, tmp_path):
    inputs = input_files([step], {"env_file": os.devnull})
    refuse_clashes(
        [("--report", tmp_path / "r.json"), ("--junit", tmp_path / "r.xml"),
         ("--json", Path(os.devnull)), ("--record", Path(os.devnull))],
        inputs,
    )  # fmt: skip
    refuse_clashes([("--report", Path("/dev/stdout")), ("--junit", Path("/dev/stdout"))], inputs)


def test_a_copy_with_the_same_content_is_another_file(step, tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text(step.read_text())
    refuse_clashes([("--report", copy)], input_files([step], {}))


# --- each command refuses before any EE, exit 2, its input intact ------------------------


@pytest.fixture
def no_daemon(monkeypatch):
    """Reaching for the Docker daemon fails the test: the refusal comes first."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("an EE backend was reached; the clash should have been refused first")

    monkeypatch.setattr(DockerBackend, "connect", refuse)


def invoke(folder: Path, *args: str) -> tuple[int, str]:
    previous = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["run", "s.py", "--report", "s.py"], "--report s.py is the step file s.py"),
        (["run", "s.py", "--junit", "./s.py"], "--junit s.py is the step file s.py"),
        (["run", "s.py", "--event-file", "ev.json", "--report", "ev.json"],
         "--report ev.json is --event-file ev.json"),
        (["run", "s.py", "--schedule", "hits.jsonl", "--junit", "hits.jsonl"],
         "--junit hits.jsonl is --schedule hits.jsonl"),
        (["run", "s.py", "--inputs", "in.json", "--report", "in.json"],
         "--report in.json is --inputs in.json"),
        (["run", "s.py", "--env-file", ".env", "--report", ".env"],
         "--report .env is --env-file .env"),
        (["run", "s.py", "--data-store", "orders=store.db", "--report", "store.db"],
         "--report store.db is --data-store orders=store.db"),
        (["run", "s.py", "--resume-after", "1", "--resume-data", "@in.json", "--report",
          "in.json"], "--report in.json is --resume-data @in.json"),
        (["run", "s.py", "--report", "out.x", "--junit", "out.x"],
         "--junit out.x is --report out.x too"),
        (["run", "s.py", "--report", "link.json"], "--report link.json is the step file s.py"),
        (["run", "wf", "--report", "wf/workflow.yaml"],
         "--report wf/workflow.yaml is the workflow file wf/workflow.yaml"),
        (["run", "wf", "--junit", "wf/fetch/entry.py"],
         "--junit wf/fetch/entry.py is step fetch's code wf/fetch/entry.py"),
        (["run", "wf", "--step-result", "notify=@in.json", "--report", "in.json"],
         "--report in.json is --step-result notify=@in.json"),
        (["check", "s.py", "--json", "s.py"], "--json s.py is the step file s.py"),
        (["check", "s.py", "--json", "out.x", "--junit", "out.x"],
         "--junit out.x is --json out.x too"),
        (["check", "project", "--junit", "project/wf/fetch/entry.py"],
         "--junit project/wf/fetch/entry.py is step fetch's code project/wf/fetch/entry.py"),
        (["serve", "s.py", "--record", "s.py"], "--record s.py is the step file s.py"),
        (["serve", "s.py", "--env-file", ".env", "--report", ".env"],
         "--report .env is --env-file .env"),
        (["serve", "s.py", "--report", "hard.json"], "--report hard.json is the step file s.py"),
        (["run", "s.py", "--html", "s.py"], "--html s.py is the step file s.py"),
        (["run", "s.py", "--report", "out.x", "--html", "out.x"],
         "--html out.x is --report out.x too"),
        (["check", "s.py", "--json", "out.x", "--html", "out.x"],
         "--html out.x is --json out.x too"),
        (["serve", "s.py", "--html", "in.json", "--env-file", "in.json"],
         "--html in.json is --env-file in.json"),
    ],
)  # fmt: skip
def test_every_command_refuses_an_output_on_an_input(tmp_path, no_daemon, args, named):
    (tmp_path / "s.py").write_text(STEP)
    (tmp_path / "ev.json").write_text('{"a": 1}\n')
    (tmp_path / "hits.jsonl").write_text('{"ts": 0}\n')
    (tmp_path / "in.json").write_text("{}\n")
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "store.db").write_bytes(b"")
    (tmp_path / "link.json").symlink_to(tmp_path / "s.py")
    os.link(tmp_path / "s.py", tmp_path / "hard.json")
    workflow(tmp_path / "wf")
    workflow(tmp_path / "project" / "wf")
    before = files_of(tmp_path)
    code, stderr = invoke(tmp_path, *args)
    assert code == 2, stderr
    assert stderr.startswith(f"Error: {named}:"), stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert files_of(tmp_path) == before  # every input intact, no output made
