"""The sweep-wide data check (``toolsweep.data.checks``): every file a trial would read, read before any trial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolsweep.config import load_sweep
from toolsweep.data import checks, loaders
from toolsweep.data.checks import DataCheckError, check_sweep_data, hub_cached, load_hub_report
from toolsweep.data.reports import DataFileError, LoadReport

BAD = Path(__file__).parent / "fixtures" / "bad"
W2C = Path(__file__).parent / "fixtures" / "when2call"
GOOD_ROW = json.loads((BAD / "hostile_rows.jsonl").read_text().splitlines()[0])


def _sweep(tmp_path: Path, data: str, extra: str = ""):
    path = tmp_path / "sweep.yaml"
    path.write_text(f"name: t\ndata:\n{data}\n{extra}")
    return load_sweep(path)


def _good_file(tmp_path: Path, rows: int = 4) -> Path:
    path = tmp_path / "good.jsonl"
    lines = []
    for i in range(rows):
        row = json.loads(json.dumps(GOOD_ROW))
        row["messages"][1]["tool_calls"][0]["function"]["arguments"]["city"] = f"City {i}"
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_rows_are_grouped_by_reason_with_lines(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, f"  sources:\n    mine: {{path: {BAD / 'hostile_rows.jsonl'}}}")
    check = check_sweep_data(sweep)
    assert check.problems == []  # skipped, not fatal, without data.strict
    text = check.render()
    assert "(unusable rows are skipped; data.strict: true stops instead)" in text
    assert f"data.sources.mine  {BAD / 'hostile_rows.jsonl'}: 7 of 8 rows unusable, 1 usable" in text
    assert "4 malformed tool schemas (lines 2, 3, 4, 5), first: " in text
    assert "1 call to a tool not offered (line 7)" in text and "1 invalid JSON (line 8)" in text


def test_strict_mode_makes_any_bad_row_a_problem(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, f"  strict: true\n  sources:\n    mine: {{path: {BAD / 'non_utf8.jsonl'}}}")
    check = check_sweep_data(sweep)
    assert check.problems == [("data.strict is true and these files have unusable rows: data.sources.mine (1 of 2); "
                              "fix the rows listed above, or set data.strict: false to skip them")]
    with pytest.raises(DataCheckError, match="the sweep's data cannot be used"):
        check.raise_if_unusable()


def test_every_kind_of_file_is_read(tmp_path: Path) -> None:
    good = _good_file(tmp_path)
    data = (f"  sources:\n    mine: {{path: {good}}}\n"
            f"  validation: {{path: {BAD / 'empty.jsonl'}}}\n"
            f"  test:\n    ours: {{path: {BAD / 'all_bad.jsonl'}}}\n"
            f"  preferences: {{path: {BAD / 'all_bad.jsonl'}}}")
    sweep = _sweep(tmp_path, data, f"eval:\n  when2call: {BAD / 'empty.jsonl'}\n")
    check = check_sweep_data(sweep)
    assert [f.where for f in check.files] == ["data.sources.mine", "data.validation", "data.test.ours",
                                              "data.preferences", "eval.when2call"]
    problems = "\n".join(check.problems)
    assert f"data.validation: {BAD / 'empty.jsonl'} has no rows (it is empty or blank)" in problems
    assert f"data.test.ours: {BAD / 'all_bad.jsonl'} has no usable rows: all 2 were rejected" in problems
    assert "data.preferences: " in problems and "eval.when2call: " in problems
    assert "4 rows, all usable" in check.render()
    assert check.render(everything=False).count("\n") < check.render().count("\n")  # train/run: only the news


def test_real_when2call_files_pass(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, f"  sources:\n    w2c: {{path: {W2C / 'when2call_train_sft.jsonl'}, format: when2call}}\n"
                             f"  preferences: {{path: {W2C / 'when2call_train_pref.jsonl'}}}",
                   f"eval:\n  when2call: {W2C / 'when2call_test_mcq.jsonl'}\n")
    check = check_sweep_data(sweep)
    assert check.problems == [] and len(check.files) == 3


def test_every_searched_path_is_read_and_zero_weight_sources_are_not(tmp_path: Path) -> None:
    good = _good_file(tmp_path)
    data = (f"  sources:\n    mine: {{path: {{choice: [{good}, {BAD / 'empty.jsonl'}]}}}}\n"
            f"    unused: {{path: {BAD / 'all_bad.jsonl'}, weight: 0}}")
    check = check_sweep_data(_sweep(tmp_path, data))
    assert [f.source for f in check.files] == [str(good), str(BAD / "empty.jsonl")]
    assert len(check.problems) == 1 and "empty.jsonl has no rows" in check.problems[0]


def test_a_holdout_that_leaves_nothing_is_a_problem(tmp_path: Path) -> None:
    one = _good_file(tmp_path, rows=1)
    data = f"  sources:\n    mine: {{path: {one}}}\n  validation: {{holdout: 0.4}}"
    check = check_sweep_data(_sweep(tmp_path, data))
    assert check.problems == ["the holdout leaves an evaluation set without rows; raise its fraction or add rows"]
    data = f"  sources:\n    mine: {{path: {one}}}\n  validation: {{holdout: 0.6}}"
    assert "leaves no training rows" in check_sweep_data(_sweep(tmp_path, data)).problems[0]


def test_hub_sets_are_read_offline_only_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(checks, "load_hub_report", lambda *args, **kwargs: calls.append(args) or LoadReport(
        "hub", 1, [GOOD_ROW], []))
    sweep = _sweep(tmp_path, "  sources:\n    hubby: {hub: Salesforce/xLAMFunctionCalling60k, format: xlam}")
    check = check_sweep_data(sweep, offline=True)
    assert calls == [] and check.problems == []
    assert ("data.sources.hubby  hub Salesforce/xLAMFunctionCalling60k (train): not in the local datasets cache, so "
            "its rows are checked when a trial loads it") in check.render()
    # datasets' own cache layout: <namespace>___<snake_case name>/<config>/<version>/<hash>
    (tmp_path / "cache" / "Salesforce___x_lam_function_calling60k" / "default" / "0.0.0" / "abc").mkdir(parents=True)
    assert hub_cached("Salesforce/xLAMFunctionCalling60k")
    assert check_sweep_data(sweep, offline=True).problems == [] and len(calls) == 1
    assert calls[0][-1] is True  # offline
    check_sweep_data(sweep, offline=False)  # train and run: read as a trial would
    assert len(calls) == 2 and calls[1][-1] is False


def test_hub_failures_are_user_errors_and_offline_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets.config

    seen = []

    def fail(*args, **kwargs):
        seen.append(datasets.config.HF_HUB_OFFLINE)
        raise ConnectionError("no route to host\nmore text")

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(loaders, "load_hub_dataset", fail)
    with pytest.raises(DataFileError, match=r"^data\.sources\.h: hub data set 'a/b' \(split 'train'\) cannot be "
                                            r"loaded: no route to host; check the name"):
        load_hub_report("data.sources.h", "a/b", "train", "xlam", offline=True)
    assert seen == [True] and datasets.config.HF_HUB_OFFLINE is False
