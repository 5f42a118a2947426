"""Report, export and W&B logging of one real (tiny) sweep, run once per session through Ray on the CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from analysis_helpers import FAKE_KEY, offline_runs, read_run

pytestmark = pytest.mark.slow


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _best(run_dir: Path) -> dict:
    summary = _summary(run_dir)
    return next(t for t in summary["trials"] if t["trial_id"] == summary["best_trial"])


def test_each_trial_and_the_sweep_are_offline_wandb_runs(analysis_run: Path) -> None:
    runs = [read_run(path) for path in offline_runs(analysis_run)]
    trials = {run["name"]: run for run in runs if run["job_type"] == "trial"}
    summary = _summary(analysis_run)
    assert set(trials) == {t["trial_id"] for t in summary["trials"]}
    for trial in summary["trials"]:
        run = trials[trial["trial_id"]]
        assert run["group"] == "analysis" and run["project"] == "toolsweep-tests"
        config = run["config"]
        assert config["lora.r"] == trial["config"]["lora.r"]  # the searched value
        assert config["trial_id"] == trial["trial_id"] and config["searched"] == ["lora.r"]
        for key in ("dpo.beta", "sft.learning_rate", "dpo.learning_rate", "model.name", "seed"):
            assert key in config  # key resolved hyperparameters
        for key in ("test/exact_match", "test/exact_match/simple", "test/exact_match/irrelevance",
                    "val/exact_match", "cost/wall_seconds", "test/failures/_type"):
            assert key in run["summary"], key
        assert run["summary"]["test/exact_match"] == pytest.approx(trial["metrics"]["test/exact_match"])
        assert run["summary"]["trial/status"] == trial["status"] == "completed"
        assert run["summary"]["test/failures/_type"] == "table-file"
        logged = [row for row in run["history"] if "val/exact_match" in row]
        assert len(logged) >= 2  # validation accuracy over time, not just at the end
        assert any("sft/loss" in row or "dpo/loss" in row for row in run["history"])
    sweep_runs = [run for run in runs if run["job_type"] == "sweep"]
    assert sweep_runs
    assert sweep_runs[0]["summary"]["best_trial"] == summary["best_trial"]
    assert sweep_runs[0]["summary"]["leaderboard/_type"] == "table-file"
    assert any(key.startswith("plots/") for key in sweep_runs[0]["summary"])


def test_the_sweep_leaves_a_variants_table_for_the_best_trial(analysis_run: Path) -> None:
    variants = json.loads((analysis_run / "variants.json").read_text())
    best = _best(analysis_run)
    assert variants["trial_id"] == best["trial_id"]
    for name in ("base", "sft", "dpo", "sft+dpo"):
        metrics = variants["variants"][name]
        assert metrics["n_examples"] == 8 and 0.0 <= metrics["exact_match"] <= 1.0
        assert {"exact_match/simple", "exact_match/irrelevance"} <= set(metrics)
    assert variants["variants"]["sft+dpo"]["exact_match"] == best["metrics"]["test/exact_match"]
    assert (analysis_run / "variants" / "dpo_only" / best["trial_id"] / "dpo" / "stage.json").is_file()
    assert not (analysis_run / "variants" / "dpo_only" / best["trial_id"] / "sft").exists()


def test_report_writes_csv_parquet_pngs_and_a_self_contained_html(analysis_run: Path, report_dir: Path) -> None:
    import pandas as pd

    board = pd.read_parquet(report_dir / "leaderboard.parquet")
    assert len(board) == len(pd.read_csv(report_dir / "leaderboard.csv")) == 2
    assert board.iloc[0]["trial_id"] == _summary(analysis_run)["best_trial"]
    for column in ("lora.r", "status", "val/exact_match", "test/exact_match", "wall_seconds", "resource_seconds"):
        assert column in board
    pngs = {p.name for p in (report_dir / "plots").glob("*.png")}
    assert {"accuracy_vs_lora_r.png", "parallel_coordinates.png", "learning_curves.png", "error_taxonomy.png"} <= pngs
    # The learning curve draws each stage's loss log (every step here), found through the stage cache.
    from toolsweep.analysis.plots import _stage_losses
    from toolsweep.analysis.rundir import load_run

    losses = _stage_losses(load_run(analysis_run), _summary(analysis_run)["best_trial"])
    assert list(losses["sft"]["step"]) == [1.0, 2.0, 3.0, 4.0] and list(losses["dpo"]["step"]) == [1.0, 2.0]
    html = (report_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(pngs)
    assert "Pick rule" in html and "base model" in html and "SFT+DPO" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_exported_model_loads_and_toolsweep_eval_reproduces_the_accuracy(exported: Path, analysis_run: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from toolsweep.analysis.manifest import verify_manifest
    from toolsweep.cli import main

    verify_manifest(exported)
    names = {p.name for p in exported.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "chat_template.jinja",
            "README.md", "manifest.json", "toolsweep_export.json"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))]
    assert not (exported / "adapter_config.json").exists()  # merged
    AutoModelForCausalLM.from_pretrained(exported, use_safetensors=True)
    best = _best(analysis_run)
    assert main(["eval", "--model", str(exported), "--n", "8", "--max-new-tokens", "4", "--out", str(tmp_path)]) == 0
    reproduced = json.loads((tmp_path / "metrics.json").read_text())["metrics"]["exact_match"]
    assert abs(reproduced - best["metrics"]["test/exact_match"]) <= 0.005
    provenance = json.loads((exported / "toolsweep_export.json").read_text())
    assert provenance["trial_id"] == best["trial_id"] and provenance["seed"] == 0
    assert provenance["packages"]["transformers"] and provenance["resolved_config"]["lora"]["r"] == best["config"]["lora.r"]
    card = (exported / "README.md").read_text()
    assert "ties go to fewer resource-seconds" in card and "| SFT+DPO |" in card and "| simple |" in card


def test_a_tampered_export_fails_manifest_verification(exported: Path, tmp_path: Path) -> None:
    import shutil

    from toolsweep.analysis.manifest import ManifestMismatch, verify_manifest

    copy = Path(shutil.copytree(exported, tmp_path / "copy"))
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ManifestMismatch, match="changed: model.safetensors"):
        verify_manifest(copy)


def test_an_interrupted_export_leaves_nothing_at_dir(analysis_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolsweep.analysis import export

    def disk_full(*args: object) -> None:
        raise OSError("No space left on device")

    best = _best(analysis_run)
    monkeypatch.setattr(export, "_reproduce", lambda spec, target: {"exact_match": best["metrics"]["test/exact_match"]})
    monkeypatch.setattr(export, "_write_card", disk_full)  # after the weights and tokenizer are written
    out = tmp_path / "model"
    with pytest.raises(OSError, match="No space left"):
        export.export_winner(analysis_run, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no half-written staging directory either


def test_an_export_that_does_not_reproduce_the_accuracy_fails_and_removes_its_files(
    analysis_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolsweep.analysis import export
    from toolsweep.cli import main

    expected = _best(analysis_run)["metrics"]["test/exact_match"]
    monkeypatch.setattr(export, "_reproduce", lambda spec, target: {"exact_match": expected + 0.01})
    out = tmp_path / "model"
    assert main(["export", str(analysis_run), "--out", str(out), "--adapter-only"]) == 1
    assert "reported" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_adapter_only_export_records_its_base_and_scores_the_same(analysis_run: Path, tmp_path: Path) -> None:
    from toolsweep.analysis.export import export_winner
    from toolsweep.analysis.manifest import verify_manifest

    provenance = export_winner(analysis_run, tmp_path / "adapter", adapter_only=True)
    out = tmp_path / "adapter"
    verify_manifest(out)
    assert provenance["format"] == "adapter"
    assert Path(json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]).is_dir()
    assert provenance["verification"]["reproduced"] == pytest.approx(provenance["verification"]["expected"], abs=0.005)


def test_the_api_key_is_never_written(analysis_run: Path, exported: Path, report_dir: Path) -> None:
    leaked = []
    for root in (analysis_run, exported, report_dir):
        for path in root.rglob("*"):
            if path.is_file() and FAKE_KEY.encode() in path.read_bytes():
                leaked.append(str(path))
    assert not leaked
