"""``toolsweep export RUN_DIR --out DIR``: the sweep's winner as a model anyone can load, proven to score
what the sweep reported.

The best trial's LoRA adapter is merged into its base (peft ``merge_and_unload``) or, with
``--adapter-only``, kept as an adapter with its base recorded. Safetensors only, plus the tokenizer with its
chat template, the generation config, a model card, ``toolsweep_export.json`` (resolved config, seed,
package versions, metrics) and ``manifest.json`` (sha256 of every file).

Nothing half-written is ever left at DIR, and nothing at DIR is ever replaced: everything goes into a
hidden sibling directory ``.DIR.partial-PID@HOST.RANDOM``, which is reloaded the way ``toolsweep eval
--model DIR`` loads a model and scored on the trial's own test examples; only when the accuracy matches the
trial's ``test/exact_match`` (within half a point) is it renamed to DIR, by a rename that fails if DIR
appeared meanwhile (a plain rename(2) silently replaces an empty directory). The staging directory is
removed on any error, Ctrl-C, SIGTERM or SIGHUP. A SIGKILLed export cannot clean up: the next export to
the same DIR removes such leftovers when their owner process on this host is gone, or when they are older
than ``STALE_STAGING_AGE_S`` (a day; for other hosts sharing the filesystem, whose PIDs cannot be checked
from here).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from toolsweep.analysis.manifest import verify_manifest, write_manifest
from toolsweep.analysis.model_card import model_card
from toolsweep.analysis.rundir import RunDir, load_run
from toolsweep.errors import UserError
from toolsweep.models.loading import hub_access_restored
from toolsweep.records import TrialRecord

__all__ = ["PROVENANCE_FILE", "STALE_STAGING_AGE_S", "TOLERANCE", "ExportError", "export_winner", "push_to_hub"]

PROVENANCE_FILE = "toolsweep_export.json"
TOLERANCE = 0.005  # half a percentage point of exact match
STALE_STAGING_AGE_S = 24 * 3600  # a staging directory this old belongs to no running export
_CLEANUP_SIGNALS = ("SIGTERM", "SIGHUP")
_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
_PACKAGES = ("toolsweep", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers",
             "safetensors", "ray", "wandb")


class ExportError(RuntimeError):
    """The export could not be verified (e.g. the reloaded model does not reproduce the trial's accuracy)."""


class _Terminated(BaseException):
    """Raised in the main thread by a termination signal, so that the export's cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _cleanup_on_termination() -> Iterator[None]:
    """SIGTERM/SIGHUP raise ``_Terminated`` while the export runs; the previous handlers come back after.

    Python's default for SIGTERM is to die without unwinding, which left the staging directory behind.
    Signals the process ignores stay ignored; outside the main thread Python cannot set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    fired: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if not fired:  # later signals must not interrupt the cleanup the first one started
            fired.append(signum)
            raise _Terminated(signum)

    previous = {}
    for name in _CLEANUP_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _staging_prefix(out: Path) -> str:
    return f".{out.name}.partial-"


def _host() -> str:
    return "".join(c if c.isalnum() or c == "-" else "-" for c in socket.gethostname())[:64] or "host"


def _is_stale(entry: Path, prefix: str, now: float) -> bool:
    """A leftover of an export that is no longer running: its owner PID on this host is gone, or it is
    older than ``STALE_STAGING_AGE_S`` (the only test for other hosts' and unnamed leftovers)."""
    try:
        if now - entry.lstat().st_mtime > STALE_STAGING_AGE_S:
            return True
    except FileNotFoundError:
        return False
    owner = entry.name[len(prefix):]
    pid, _, rest = owner.partition("@")
    host = rest.rpartition(".")[0]
    if not pid.isdigit() or host != _host():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _remove_stale_staging(out: Path) -> list[Path]:
    """Remove the staging directories SIGKILLed exports to ``out`` left behind; returns what was removed."""
    prefix, now, removed = _staging_prefix(out), time.time(), []
    try:
        entries = list(out.parent.iterdir())
    except OSError:  # an unreadable parent: nothing we could remove anyway
        return removed
    for entry in entries:
        if entry.name.startswith(prefix) and entry.is_dir() and not entry.is_symlink() and _is_stale(entry, prefix, now):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``, failing with ``FileExistsError`` if ``dst`` exists in any form.

    rename(2) replaces an empty directory (and a file, with a file) without a word. Linux's
    renameat2(RENAME_NOREPLACE) refuses atomically; where it is missing (other systems, a filesystem
    without the flag) ``dst`` is first reserved with mkdir, which fails if anything is there, and the
    rename then replaces only that reservation (a window in which another process would have to delete
    the reservation and create its own empty directory)."""
    if sys.platform.startswith("linux"):
        renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
        if renameat2 is not None:
            at_fdcwd, rename_noreplace = -100, 1
            if renameat2(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), rename_noreplace) == 0:
                return
            code = ctypes.get_errno()
            if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise OSError(code, os.strerror(code), str(src), None, str(dst))
    os.mkdir(dst)  # FileExistsError if anything is at dst
    try:
        os.rename(src, dst)
    except BaseException:
        os.rmdir(dst)
        raise


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _write_weights(spec: Any, model_dir: Path, target: Path, adapter_only: bool) -> str:
    """Weights, tokenizer (with chat template) and generation config into ``target``; returns the format."""
    from transformers import GenerationConfig

    from toolsweep.models.loading import is_adapter, load_tokenizer, load_trained
    from toolsweep.models.registry import resolve_model
    from toolsweep.trainers.hardware import choose_precision

    base_location = resolve_model(spec.model.name)
    adapter = is_adapter(model_dir)
    if adapter_only and not adapter:
        raise UserError("--adapter-only: the winning trial was fully fine-tuned (lora.enabled: false), so there is "
                        "no adapter; export it without --adapter-only")
    if adapter_only:
        for name in _ADAPTER_FILES:
            shutil.copy2(model_dir / name, target / name)
        config = json.loads((target / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = base_location  # what `toolsweep eval` and PeftModel load it on
        (target / "adapter_config.json").write_text(json.dumps(config, indent=2))
        fmt = "adapter"
    else:
        model = load_trained(spec.model, model_dir, choose_precision(spec.resources.precision).torch_dtype)
        (model.merge_and_unload() if adapter else model).save_pretrained(str(target))
        fmt = "merged" if adapter else "full"
    # A stage saves its tokenizer (with any model.chat_template override) beside its weights; one without a
    # chat template is refused here, since tool calls could not be rendered.
    tokenizer = load_tokenizer(spec.model, saved_in=model_dir)
    tokenizer.save_pretrained(str(target))
    if not (target / "generation_config.json").is_file():
        try:
            generation = GenerationConfig.from_pretrained(base_location)
        except OSError:
            generation = GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        generation.save_pretrained(str(target))
    pickled = [p.name for p in target.rglob("*") if p.suffix in _PICKLE_SUFFIXES]
    if pickled:
        raise ExportError(f"refusing to export pickle files {pickled}; an export holds safetensors only")
    return fmt


def _reproduce(spec: Any, target: Path) -> dict[str, float]:
    """Load ``target`` as ``toolsweep eval --model`` does and score it on the trial's headline test set."""
    from toolsweep.data.prepare import named_test_sets
    from toolsweep.evaluation.runner import evaluate
    from toolsweep.models.loading import load_for_inference

    model, tokenizer = load_for_inference(str(target), revision=spec.model.revision,
                                          trust_remote_code=spec.model.trust_remote_code)
    examples = next(iter(named_test_sets(spec).values()))
    report = evaluate(model, tokenizer, examples, batch_size=spec.eval.batch_size, max_new_tokens=spec.eval.max_new_tokens)
    return report.metrics.to_flat_dict()


def _provenance(run: RunDir, trial: TrialRecord, spec: Any, fmt: str, reproduced: float) -> dict[str, Any]:
    return {
        "sweep": run.name,
        "run_dir": str(run.path),
        "trial_id": trial.trial_id,
        "format": fmt,
        "base_model": spec.model.name,
        "rule": run.rule,
        "metric": run.metric,
        "mode": run.mode,
        "n_trials": len(run.trials),
        "seed": spec.seed,
        "searched_values": trial.config,
        "resolved_config": spec.model_dump(mode="json"),
        "metrics": trial.metrics,
        "test_examples": spec.data.test_examples,
        "verification": {"expected": trial.metrics.get("test/exact_match"), "reproduced": reproduced,
                         "tolerance": TOLERANCE},
        "packages": _versions(),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _write_card(target: Path, provenance: dict[str, Any], run: RunDir, out: Path) -> None:
    from toolsweep.analysis.variants import VARIANTS_FILE, variant_rows

    variants = run.read_json(VARIANTS_FILE)
    rows = variant_rows(variants) if variants and variants.get("trial_id") == provenance["trial_id"] else []
    from toolsweep.config.schema import SweepSpec
    from toolsweep.data.eval_sets import eval_command
    from toolsweep.data.prepare import evaluation_configs

    spec = SweepSpec.model_validate(provenance["resolved_config"], strict=False)
    headline = next(iter(evaluation_configs(spec.data)[1].values()))
    command = eval_command(str(out), headline, spec.data.test_examples, spec.eval.max_new_tokens)
    (target / "README.md").write_text(model_card(provenance, rows, command), encoding="utf-8")


def _publishable(root: Path) -> None:
    """Ordinary permissions (the staging directory was private while it was incomplete)."""
    umask = os.umask(0)
    os.umask(umask)
    root.chmod(0o777 & ~umask)
    for path in root.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def export_winner(run_dir: str | Path, out: str | Path, *, adapter_only: bool = False) -> dict[str, Any]:
    """Write the best trial's model to ``out`` atomically and verify it; returns the provenance record."""
    run = load_run(run_dir)
    trial = run.best()
    spec = run.trial_spec(trial)
    model_dir = run.model_dir(trial)
    expected = trial.metrics.get("test/exact_match")
    if expected is None:
        raise UserError(f"trial {trial.trial_id} has no test/exact_match to verify an export against; "
                        "it was run by an older toolsweep: rerun the sweep")
    out = Path(out).expanduser().resolve()
    if os.path.lexists(out):
        raise UserError(f"--out {out} already exists; give a new directory (export never overwrites)")
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out)
    staging: Path | None = None
    published, stopped_by = False, None
    # The local reload may set HF_HUB_OFFLINE; a --push-to-hub after the export must reach the hub.
    with _cleanup_on_termination(), hub_access_restored():
        try:
            staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(out)}{os.getpid()}@{_host()}.", dir=out.parent))
            provenance = _build(run, trial, spec, model_dir, expected, staging, out, adapter_only)
            try:
                _rename_noreplace(staging, out)  # atomic: DIR appears complete or not at all
            except FileExistsError:
                raise UserError(f"--out {out} was created by something else while the export ran; it was left as it "
                                "is and the export was discarded: export again to a new directory") from None
            published = True
        except _Terminated as exc:
            stopped_by = exc.signum
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        if stopped_by is not None and staging is not None and not published:
            shutil.rmtree(staging, ignore_errors=True)  # still ignoring further signals: the cleanup completes
    if stopped_by is not None:
        signal.raise_signal(stopped_by)  # the previous disposition decides: by default the process ends here
        state = f"the export is complete at {out}" if published else f"nothing was written to {out}"
        raise ExportError(f"export stopped by {signal.Signals(stopped_by).name}; {state}")
    return provenance


def _build(run: RunDir, trial: TrialRecord, spec: Any, model_dir: Path, expected: float, staging: Path,
           out: Path, adapter_only: bool) -> dict[str, Any]:
    """Write, reload, verify and describe the export in ``staging``; returns the provenance record."""
    fmt = _write_weights(spec, model_dir, staging, adapter_only)
    reproduced = _reproduce(spec, staging)["exact_match"]
    if abs(reproduced - expected) > TOLERANCE:
        raise ExportError(
            f"the exported model scores {reproduced:.2%} exact match on the {spec.data.test_examples} test "
            f"examples, but trial {trial.trial_id} reported {expected:.2%} (allowed difference "
            f"{TOLERANCE:.1%}); nothing was written to {out}. Check that the base model "
            f"{spec.model.name!r} is unchanged since the sweep"
        )
    provenance = _provenance(run, trial, spec, fmt, reproduced)
    (staging / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, default=str))
    _write_card(staging, provenance, run, out)
    write_manifest(staging)
    verify_manifest(staging)
    _publishable(staging)
    return provenance


def push_to_hub(out: str | Path, repo: str, *, private: bool = True) -> str:
    """Upload an export (after re-checking its manifest) to the Hugging Face Hub; returns the repo URL."""
    out = Path(out)
    verify_manifest(out)
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        raise UserError("--push-to-hub: HF_HUB_OFFLINE is set; unset it to upload")
    from huggingface_hub import HfApi, get_token

    if get_token() is None:
        raise UserError("--push-to-hub: not logged in to the Hugging Face Hub; run `hf auth login` or set HF_TOKEN")
    api = HfApi()
    url = api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
    provenance = json.loads((out / PROVENANCE_FILE).read_text())
    api.upload_folder(folder_path=str(out), repo_id=repo, repo_type="model",
                      commit_message=f"toolsweep export of {provenance['sweep']} trial {provenance['trial_id']}")
    return str(url)
