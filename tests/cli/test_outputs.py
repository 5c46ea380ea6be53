"""The error contract of docs/errors.md: one output transaction per command, targets that are
not regular files, stdout failures, signals, usage errors and option values.

In-process (CliRunner) where a result is all that matters; in a subprocess where signals,
pipes and file descriptors do (each costs a CLI start, ~0.5-1 s, so they are few).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bnnc.api as bnnc
from bnnc.cli import app
from bnnc.errors import OutputError
from bnnc.io import output_transaction, write_atomic
from tests.paths import EXAMPLES, ROOT

TINY = EXAMPLES / "tiny.bnn"
runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(("bnnc: error: ", "bnnc: usage error: ")), stderr
    assert "Traceback" not in stderr
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- the transaction --------------------------------------------------------------------------


def test_transaction_commits_all_or_nothing(tmp_path: Path) -> None:
    with output_transaction():
        write_atomic(tmp_path / "a.txt", "a\n")
        write_atomic(tmp_path / "b.txt", "b\n")
        pending = leftovers(tmp_path)  # nothing visible before the commit
        assert len(pending) == 2 and all(n.endswith(".tmp") for n in pending), pending
    assert leftovers(tmp_path) == ["a.txt", "b.txt"]

    (tmp_path / "a.txt").write_text("old\n")
    with pytest.raises(KeyboardInterrupt), output_transaction():
        write_atomic(tmp_path / "a.txt", "new\n")
        write_atomic(tmp_path / "c.txt", "c\n")
        raise KeyboardInterrupt
    assert leftovers(tmp_path) == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_text() == "old\n"


def test_a_failing_second_output_leaves_no_first(tmp_path: Path) -> None:
    with pytest.raises(OutputError), output_transaction():
        write_atomic(tmp_path / "first.cnf", "p cnf 0 0\n")
        write_atomic(tmp_path / "missing" / "second.json", "{}\n")
    assert leftovers(tmp_path) == []


def test_compile_with_an_unwritable_map_leaves_no_cnf(tmp_path: Path) -> None:
    out = tmp_path / "out.cnf"
    code, _, stderr = run(TINY, "-o", out, "--map", tmp_path / "nonexistent" / "m.json")
    assert code == 5
    assert "m.json" in one_error_line(stderr)
    assert leftovers(tmp_path) == []


def test_sample_with_an_unwritable_png_leaves_no_npy(tmp_path: Path) -> None:
    npy = tmp_path / "s.npy"
    code, _, stderr = run(
        "sample", TINY, "-l", "1", "-n", "2", "-o", npy, "--png", tmp_path / "no" / "g.png"
    )
    assert code == 5
    one_error_line(stderr)
    assert leftovers(tmp_path) == []


def test_a_verb_error_after_writing_rolls_back(tmp_path: Path) -> None:
    """compile writes the CNF, then --check-sat fails on a bad --solver: no CNF."""
    out = tmp_path / "out.cnf"
    code, _, stderr = run(TINY, "-t", "1", "--check-sat", "--solver", "bogus", "-o", out)
    assert code == 2, stderr
    one_error_line(stderr)
    assert leftovers(tmp_path) == []


# --- targets that are not regular files ---------------------------------------------------------


def test_fifo_is_written_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, stderr = run(TINY, "-o", fifo)
    reader.join(timeout=30)
    assert code == 0, stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still a FIFO, not replaced
    assert b"p cnf 81 264" in received[0]
    assert leftovers(tmp_path) == ["pipe"]


def test_character_device_is_written_as_a_stream(tmp_path: Path) -> None:
    """A private copy of /dev/null (major 1, minor 3) in tmp: never the real one."""
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("cannot create a device node here (not root, or a restricted container)")
    code, _, stderr = run(TINY, "-o", device, "--map", device)
    assert code == 0, stderr
    assert stat.S_ISCHR(device.lstat().st_mode)
    assert leftovers(tmp_path) == ["null"]


def test_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.cnf"
    real.write_text("old\n")
    link = tmp_path / "link.cnf"
    link.symlink_to(real.name)
    code, _, stderr = run(TINY, "-o", link)
    assert code == 0, stderr
    assert link.is_symlink() and os.readlink(link) == "real.cnf"
    assert real.read_text().startswith("c bnnc")
    assert leftovers(tmp_path) == ["link.cnf", "real.cnf"]


def test_read_only_file_is_refused(tmp_path: Path) -> None:
    """Refused even for root, who could write it: the permission bits are the owner's word."""
    out = tmp_path / "out.cnf"
    out.write_text("precious\n")
    out.chmod(0o444)
    code, _, stderr = run(TINY, "-o", out)
    assert code == 5
    assert "read-only" in one_error_line(stderr)
    assert out.read_text() == "precious\n"
    assert leftovers(tmp_path) == ["out.cnf"]


def test_directory_is_refused(tmp_path: Path) -> None:
    code, _, stderr = run(TINY, "-o", tmp_path)
    assert code == 5
    assert "is a directory" in one_error_line(stderr)
    assert leftovers(tmp_path) == []


def test_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "out.cnf"
    out.write_text("old\n")
    out.chmod(0o640)
    write_atomic(out, "new\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_text() == "new\n"


def test_check_outputs_refuses_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        bnnc.check_outputs(None, "-", tmp_path)


# --- usage errors and option values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        ([TINY, "--encoding", "bogus"], "--encoding"),
        ([TINY, "--emit", "bogus"], "--emit"),
        ([TINY, "--bogus"], "--bogus"),
        (["sample", TINY, "-n", "x"], "-n"),
        (["sample", TINY, "-l", "1", "-n", "99999999999999999999"], "-n"),
        (["count", TINY, "-l", "1", "--approx", "--epsilon", "inf"], "--epsilon"),
        (["count", TINY, "-l", "1", "--approx", "--epsilon", "nan"], "--epsilon"),
        (["count", TINY, "-l", "1", "--approx", "--epsilon", "0"], "--epsilon"),
        (["count", TINY, "-l", "1", "--approx", "--epsilon", "-1"], "--epsilon"),
        (["count", TINY, "-l", "1", "--approx", "--delta", "1"], "--delta"),
        (["count", TINY, "-l", "1", "--approx", "--delta", "0"], "--delta"),
        (["count", TINY, "-l", "1", "--approx", "--delta", "nan"], "--delta"),
        (["count", TINY, "-l", "1", "--timeout", "-1"], "--timeout"),
        (["count", TINY, "-l", "1", "--timeout", "nan"], "--timeout"),
        (["count", TINY, "-l", "1", "--timeout", "inf"], "--timeout"),
        ([TINY, "-t", "1", "--check-sat", "--timeout", "0"], "--timeout"),
        (["count", TINY, "-l", "1", "--fix", "0-=1"], "--fix"),
        (["count", TINY, "-l", "1", "--fix", "0=1,"], "--fix"),
        (["count", TINY, "-l", "1", "--fix", "+0=1"], "--fix"),
        (["count", TINY, "-l", "1", "--fix", "0 = 1"], "--fix"),
        (["count", TINY, "-l", "1", "--fix", "2-1=1"], "--fix"),
        (["count", TINY, "-l", "1", "--fix", "@/nonexistent/fix.txt"], "--fix"),
        (["train", "--threshold", "nan"], "--threshold"),
        (["train", "--lr", "inf"], "--lr"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str | Path], flag: str) -> None:
    code, stdout, stderr = run(*args)
    assert code == 2, stderr
    assert flag in one_error_line(stderr)
    assert stdout == ""


def test_fix_from_a_binary_file(tmp_path: Path) -> None:
    blob = tmp_path / "fix.bin"
    blob.write_bytes(bytes(range(256)))
    code, _, stderr = run("count", TINY, "-l", "1", "--fix", f"@{blob}")
    assert code == 2 and "--fix" in one_error_line(stderr)


def test_fix_grammar_as_documented() -> None:
    """Blanks around items, commas, lines in a file: all still read."""
    from bnnc.frontend.query import parse_fix

    assert parse_fix(" 0-2=1 , 4=- ", 6) == {0: True, 1: True, 2: True, 4: False}
    assert parse_fix("0=+\n\n3=0\n", 6) == {0: True, 3: False}


def test_missing_or_unreadable_model_is_exit_3(tmp_path: Path) -> None:
    code, _, stderr = run(tmp_path / "missing.bnn")
    assert code == 3 and "missing.bnn" in one_error_line(stderr)
    code, _, stderr = run(tmp_path)  # a directory as MODEL
    assert code == 3, stderr
    one_error_line(stderr)


def test_help_still_works() -> None:
    for args in (["--help"], ["count", "--help"], ["compile", "--help"]):
        code, stdout, _ = run(*args)
        assert code == 0 and "Usage:" in stdout


# --- stdout, pipes and signals (subprocesses) -----------------------------------------------


def bnnc_process(*args: str | Path, **options: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "bnnc", *map(str, args)], cwd=ROOT, **options
    )


def test_stdout_failures() -> None:
    """Broken pipe: quiet exit 141; /dev/full: one line, exit 5; closed stdout: one line,
    exit 5 (and a command that prints nothing still succeeds with stdout closed)."""
    broken = bnnc_process(TINY, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert broken.stdout is not None and broken.stderr is not None
    broken.stdout.close()  # the reader is gone before bnnc writes a byte
    stderr = broken.stderr.read().decode()
    assert broken.wait(timeout=60) == 141 and stderr == ""

    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "bnnc", str(TINY)],
            cwd=ROOT,
            stdout=full,
            capture_output=False,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert done.returncode == 5
    assert "No space left" in one_error_line(done.stderr.decode())

    script = f"'{sys.executable}' -m bnnc '{TINY}' >&-; echo \" $?\" >&2"
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, timeout=60)
    err = done.stderr.decode()
    assert err.endswith(" 5\n"), err
    assert "stdout is closed" in one_error_line(err.rsplit("\n", 2)[0] + "\n")


def test_stdout_as_a_path_is_a_stream(tmp_path: Path) -> None:
    """-o /dev/stdout onto a pipe (a 'pipe:[…]' link no path reaches) and onto an appended file."""
    done = subprocess.run(
        [sys.executable, "-m", "bnnc", str(TINY), "-o", "/dev/stdout"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"p cnf 81 264" in done.stdout
    log = tmp_path / "log"
    log.write_text("kept\n")
    with log.open("ab") as handle:
        subprocess.run(
            [sys.executable, "-m", "bnnc", str(TINY), "-o", "/dev/stdout"],
            cwd=ROOT,
            stdout=handle,
            timeout=60,
            check=True,
        )
    assert log.read_text().startswith("kept\nc bnnc")
    assert leftovers(tmp_path) == ["log"]


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [
        (signal.SIGTERM, 143, "terminated"),
        (signal.SIGINT, 130, "interrupted"),
    ],
)
def test_signal_during_a_write_leaves_nothing(
    tmp_path: Path, signum: int, code: int, word: str
) -> None:
    """The CNF is written (held in the transaction), then bnnc blocks opening --map, a FIFO
    nobody reads: the signal arrives mid-command, deterministically."""
    fifo = tmp_path / "map.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "out.cnf"
    process = bnnc_process(TINY, "-o", out, "--map", fifo, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(n.endswith(".tmp") for n in leftovers(tmp_path)):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signum)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=30) == code
    assert stderr == f"bnnc: {word}\n"
    assert leftovers(tmp_path) == ["map.fifo"]


def test_ctrl_c_during_imports_is_one_line() -> None:
    """SIGINT as soon as numpy is mapped: bnnc is loading its modules (the interpreter's own
    start, before bnnc._entry runs, cannot be covered)."""
    process = bnnc_process(TINY, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + 60
    while "numpy" not in maps.read_text():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stderr.decode() == "bnnc: interrupted\n" and stdout == b""
