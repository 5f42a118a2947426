from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from toolsweep.cli import main

ROOT = Path(__file__).parents[2]
HEAVY = ["torch", "ray", "transformers", "trl", "peft", "deepspeed", "datasets", "wandb", "optuna"]


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for verb in ("validate", "run", "train", "eval", "report", "export"):
        assert verb in out


@pytest.mark.parametrize("verb", ["validate", "run", "train", "eval", "report", "export"])
def test_every_verb_has_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([verb, "--help"])
    assert info.value.code == 0
    assert "usage: toolsweep " + verb in capsys.readouterr().out


def test_help_and_validate_import_no_heavy_library() -> None:
    """`toolsweep --help` and `validate` must answer fast: none of the multi-second imports may happen."""
    code = (
        "import sys, json, contextlib, io\n"
        "from toolsweep.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['validate', {str(ROOT / 'configs' / 'quickstart.yaml')!r}])\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_validate_prints_the_search_space(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "configs" / "quickstart.yaml")]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "dpo.beta" in out and "choice [0.05, 0.1, 0.3]" in out
    assert "full fine-tuning" in out  # the quickstart turns LoRA off, and validate says so


def test_eval_scores_a_model_and_writes_metrics(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tiny_model_dir), "--n", "8", "--max-new-tokens", "8", "--out", str(out)]) == 0
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metrics"]["n_examples"] == 8 and 0 <= saved["metrics"]["exact_match"] <= 1
    assert saved["backend"] == "hf"  # auto: no vLLM or no GPU here
    assert (out / "failures.jsonl").is_file()
    assert "exact_match" in capsys.readouterr().out


def test_eval_names_a_missing_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--model", "./no/such/model"]) == 2
    assert "--model" in capsys.readouterr().err


def test_eval_backend_vllm_says_what_is_missing(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from toolsweep.evaluation import command, generation

    monkeypatch.setattr(generation, "vllm_available", lambda: False)
    assert main(["eval", "--model", str(tiny_model_dir), "--backend", "vllm"]) == 2
    assert "--backend vllm needs `pip install vllm` and a CUDA GPU" in capsys.readouterr().err
    # With vLLM usable, auto picks it for full weights and keeps adapters on transformers.
    monkeypatch.setattr(generation, "vllm_available", lambda: True)
    assert command.choose_backend(str(tiny_model_dir), "auto") == "vllm"
    assert command.choose_backend(str(tiny_model_dir), "hf") == "hf"
    adapter = tiny_model_dir.parent / "adapter-only"
    adapter.mkdir(exist_ok=True)
    (adapter / "adapter_config.json").write_text("{}")
    assert command.choose_backend(str(adapter), "auto") == "hf"
    assert main(["eval", "--model", str(adapter), "--backend", "vllm"]) == 2
    assert "is a LoRA adapter" in capsys.readouterr().err


def test_eval_on_chosen_bfcl_categories_and_the_unseen_phrasing_slice(tiny_model_dir: Path, tmp_path: Path) -> None:
    golden = ROOT / "tests" / "evaluation" / "testdata" / "bfcl"
    out = tmp_path / "bfcl"
    assert main(["eval", "--model", str(tiny_model_dir), "--suite", "bfcl", "--bfcl-source", str(golden),
                 "--categories", "simple_python,multiple", "--n", "2", "--max-new-tokens", "4", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics["n_examples"] == 4 and {"exact_match/simple_python", "exact_match/multiple"} <= set(metrics)
    assert "exact_match/parallel_multiple" not in metrics
    assert main(["eval", "--model", str(tiny_model_dir), "--suite", "bfcl", "--bfcl-source", str(golden),
                 "--categories", "simple"]) == 2
    unseen = tmp_path / "unseen"
    assert main(["eval", "--model", str(tiny_model_dir), "--data", "builtin:unseen_phrasing", "--n", "4",
                 "--max-new-tokens", "4", "--out", str(unseen)]) == 0
    rows = [json.loads(line) for line in (unseen / "failures.jsonl").read_text().splitlines()]
    assert rows and all(row["id"].startswith("test-unseen-") for row in rows)


def test_eval_when2call_suite_scores_multiple_choice(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    fixture = Path(__file__).parents[1] / "data" / "fixtures" / "when2call" / "when2call_test_mcq.jsonl"
    out = tmp_path / "w2c"
    assert main(["eval", "--model", str(tiny_model_dir), "--suite", "when2call", "--data", str(fixture),
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics["when2call/n_examples"] == 6 and "when2call/macro_f1" in metrics
    assert main(["eval", "--model", str(tiny_model_dir), "--suite", "when2call", "--data", str(tmp_path / "no.jsonl")]) == 2
    assert "needs a When2Call test file" in capsys.readouterr().err


def test_validate_fields_prints_the_reference_from_the_schema(capsys) -> None:
    from toolsweep.config.fields import field_rows

    assert main(["validate", "--fields"]) == 0
    out = capsys.readouterr().out
    rows = field_rows()
    assert all(description for *_, description in rows), [r[0] for r in rows if not r[3]]  # every field says why
    for path in ("sft.learning_rate: float = 0.001", "data.test.<name>.holdout: float | null = None",
                 "eval.max_new_tokens: int = 256", "data.sources.<name>.weight: float = 1.0"):
        assert path in out, path
    assert out.count("\n") >= 2 * len(rows) - 1
    assert main(["validate"]) == 2
