"""Export's staging directory and its final rename, without a sweep (see export_fakes.py): a SIGTERMed
export removes its staging directory, a SIGKILLed one leaves a recognisable leftover that the next export
to the same --out removes (only when its owner is gone or it is a day old), and a directory or file that
appears at --out while the export runs is never replaced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import export_fakes
import pytest

from toolsweep.analysis import export
from toolsweep.errors import UserError

HERE = Path(__file__).parent

# An export to argv[1] that, once its staging directory holds the weights, lists the parent's entries
# into argv[2] and then takes a minute "scoring" the model: long enough to be signalled mid-way.
_SLOW_EXPORT = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    sys.path.insert(0, {here!r})
    import export_fakes
    from toolsweep.analysis import export

    out, ready = Path(sys.argv[1]), Path(sys.argv[2])

    def slow(target):
        ready.write_text(json.dumps(sorted(p.name for p in out.parent.iterdir())))
        time.sleep(60)

    export_fakes.install(setattr, export, while_scoring=slow)
    export.export_winner("unused", out)
""").format(here=str(HERE))


def _staging_dirs(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.partial-"))


def _export_interrupted_by(sig: signal.Signals, out: Path) -> tuple[subprocess.CompletedProcess | subprocess.Popen, list[str]]:
    """Run the slow export in a subprocess, send ``sig`` while it scores; returns (process, entries seen then)."""
    ready = out.parent / "ready.json"
    process = subprocess.Popen([sys.executable, "-c", _SLOW_EXPORT, str(out), str(ready)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() or not ready.read_text():
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the export never reached its scoring step"
            time.sleep(0.1)
        seen = json.loads(ready.read_text())
        ready.unlink()
        process.send_signal(sig)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process, seen


def test_a_sigterm_mid_export_removes_the_staging_directory_and_ends_the_process_by_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "model"
    process, seen = _export_interrupted_by(signal.SIGTERM, out)
    staged = [name for name in seen if name.startswith(".model.partial-")]
    assert staged, f"no staging directory while scoring: {seen}"  # else the test would prove nothing
    assert process.returncode == -signal.SIGTERM, process.stderr.read()[-3000:]
    assert not out.exists() and _staging_dirs(out) == []


def test_a_sigkilled_exports_leftover_is_removed_by_the_next_export_to_the_same_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "model"
    process, _ = _export_interrupted_by(signal.SIGKILL, out)
    assert process.returncode == -signal.SIGKILL
    leftover = _staging_dirs(out)
    assert len(leftover) == 1 and leftover[0].startswith(f".model.partial-{process.pid}@{export._host()}.")
    export_fakes.install(monkeypatch.setattr, export)
    assert export.export_winner("unused", out)["trial_id"] == "t1"
    assert (out / "model.safetensors").is_file() and _staging_dirs(out) == []


def test_only_leftovers_whose_owner_is_gone_or_that_are_a_day_old_are_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, host, now = tmp_path / "model", export._host(), time.time()
    live = tmp_path / f".model.partial-{os.getpid()}@{host}.live"  # a running export (this process)
    elsewhere = tmp_path / ".model.partial-1@other-host.x"  # another machine on a shared filesystem
    old_live = tmp_path / f".model.partial-{os.getppid()}@{host}.old"  # PID reused since; a day old
    old_unnamed = tmp_path / ".model.partial-abc123"  # an older toolsweep's name
    other_out = tmp_path / f".other.partial-999999999@{host}.x"  # another --out's
    for path in (live, elsewhere, old_live, old_unnamed, other_out):
        path.mkdir()
    for path in (old_live, old_unnamed):
        os.utime(path, (now - export.STALE_STAGING_AGE_S - 60,) * 2)
    export_fakes.install(monkeypatch.setattr, export)
    export.export_winner("unused", out)
    assert _staging_dirs(out) == sorted([live.name, elsewhere.name])
    assert other_out.is_dir()


@pytest.mark.parametrize("kind", ["empty directory", "file"])
def test_something_created_at_out_during_the_export_is_never_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    out = tmp_path / "model"

    def someone_else(target: Path) -> None:
        out.mkdir() if kind == "empty directory" else out.write_text("theirs")

    export_fakes.install(monkeypatch.setattr, export, while_scoring=someone_else)
    with pytest.raises(UserError, match=r"--out .*model was created by something else while the export ran; it was left"):
        export.export_winner("unused", out)
    if kind == "empty directory":
        assert out.is_dir() and list(out.iterdir()) == []
    else:
        assert out.read_text() == "theirs"
    assert _staging_dirs(out) == []


def test_plain_rename_would_replace_an_empty_directory_but_the_export_rename_does_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = tmp_path / "staging", tmp_path / "out"
    source.mkdir()
    target.mkdir()
    (source / "weights").write_text("w")
    if sys.platform.startswith("linux"):  # the bug: rename(2) onto an empty directory succeeds silently
        probe = tmp_path / "probe"
        probe.mkdir()
        os.rename(probe, target)
        assert not probe.exists() and target.is_dir()
    for platform in (sys.platform, "darwin"):  # renameat2, then the mkdir-reservation fallback
        monkeypatch.setattr(sys, "platform", platform)
        with pytest.raises(FileExistsError):
            export._rename_noreplace(source, target)
        assert list(target.iterdir()) == [] and (source / "weights").is_file()
    export._rename_noreplace(source, tmp_path / "fresh")
    assert (tmp_path / "fresh" / "weights").read_text() == "w" and not source.exists()


def test_signal_handlers_are_restored_after_an_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    export_fakes.install(monkeypatch.setattr, export)
    export.export_winner("unused", tmp_path / "model")
    with pytest.raises(UserError, match="already exists"):
        export.export_winner("unused", tmp_path / "model")
    assert {sig: signal.getsignal(sig) for sig in before} == before
