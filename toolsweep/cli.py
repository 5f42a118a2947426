"""The ``toolsweep`` command: parse arguments, call the library, turn known errors into exit status 2.

Nothing heavy is imported at module level: ``toolsweep --help`` and ``toolsweep validate`` must answer in
well under a second, while torch, transformers and Ray take seconds to import. Each verb's handler imports
what it needs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from toolsweep.config.vocabulary import DEFAULT_MAX_NEW_TOKENS

if TYPE_CHECKING:
    from toolsweep.config.loader import Sweep

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2


def _add_sweep_args(parser: argparse.ArgumentParser, optional: bool = False) -> None:
    parser.add_argument("sweep", metavar="SWEEP.yaml", nargs="?" if optional else None,
                        help="sweep file (see configs/quickstart.yaml)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field by dotted path, value in YAML (repeatable): --set dpo.beta=0.2",
    )


def _load_checked(args: argparse.Namespace, offline: bool) -> tuple[Sweep, str]:
    """The sweep of ``args`` with its data read as a trial would read it (``toolsweep.data.checks``): the
    trust_remote_code warning is printed, a data problem raises (exit 2). Returns the sweep and the data report."""
    from toolsweep.config import load_sweep
    from toolsweep.data.checks import check_sweep_data
    from toolsweep.trainers.preflight import remote_code_warning

    sweep = load_sweep(args.sweep, args.overrides)
    warning = remote_code_warning(sweep.spec)
    if warning:
        print(warning, file=sys.stderr)
    check = check_sweep_data(sweep, offline=offline)
    report = check.render(everything=offline)
    if check.problems:  # the report first: it holds the rows behind the problems
        if report:
            print(report, file=sys.stdout if offline else sys.stderr)
        check.raise_if_unusable()
    return sweep, report


def _cmd_validate(args: argparse.Namespace) -> int:
    from toolsweep.trainers.preflight import describe_sweep

    if args.fields:
        from toolsweep.config.fields import describe_fields

        print(describe_fields())
        if args.sweep is None:
            return 0
    elif args.sweep is None:
        print("toolsweep validate: give a sweep file (SWEEP.yaml), or --fields for the field reference", file=sys.stderr)
        return EXIT_USAGE
    sweep, data_report = _load_checked(args, offline=True)  # validate never reaches the network
    print(describe_sweep(sweep))
    if data_report:
        print(data_report)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    sweep, data_report = _load_checked(args, offline=False)
    if data_report:
        print(data_report, file=sys.stderr)
    from toolsweep.trainers.console import ProgressPrinter, stage_table

    spec = sweep.spec
    if sweep.space:
        fixed = ", ".join(f"{path}={spec_value}" for path, spec_value in _defaults(sweep).items())
        print(f"train runs one configuration; searched fields take their default candidate: {fixed}")
    out = Path(args.out) if args.out else Path(spec.storage.path) / spec.name / f"train-seed{spec.seed}"
    print(f"training in {out}")
    if spec.resources.workers > 1:
        from toolsweep.sweeps.distributed import train_distributed

        metrics = train_distributed(spec, out, evaluate_base=True)
    else:
        from toolsweep.trainers.pipeline import run_pipeline

        # No mid-stage validation: only a scheduler consumes it, and train has none.
        metrics = run_pipeline(spec, out, ProgressPrinter(), evaluate_base=True, validate_during_training=False).metrics
    label = {(True, True): "SFT+DPO", (True, False): "SFT", (False, True): "DPO"}.get((spec.sft.enabled, spec.dpo.enabled), "base")
    print(stage_table(metrics, label))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    if args.address:  # a dashboard URL given by mistake fails here, before Ray is imported
        from toolsweep.cluster.attach import check_address

        check_address(args.address)
    sweep, data_report = _load_checked(args, offline=False)  # before Ray is imported: a bad file fails every trial
    if data_report:
        print(data_report, file=sys.stderr)
    from toolsweep.sweeps.driver import run_sweep
    from toolsweep.sweeps.report_console import print_summary

    summary = run_sweep(sweep, resume=args.resume, address=args.address)
    print_summary(summary)
    return 0 if summary.best_trial else 1


def _cmd_eval(args: argparse.Namespace) -> int:
    from toolsweep.evaluation.command import print_metrics, run_eval

    metrics = run_eval(
        args.model, args.data, suite=args.suite, bfcl_source=args.bfcl_source, live=args.live,
        categories=args.categories, n=args.n,
        out=args.out, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
        trust_remote_code=args.trust_remote_code, backend=args.backend, chat_template=args.chat_template,
    )
    print_metrics(metrics, f"{args.model} on {args.suite or args.data}")
    if args.out:
        print(f"metrics and failures written to {args.out}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from toolsweep.models.packaged import is_ready, materialise
    from toolsweep.models.registry import BUILTIN_MODELS, BUILTIN_PREFIX, PACKAGED_MODELS, packaged_model

    if args.action == "list":
        for name, path in BUILTIN_MODELS.items():
            print(f"{BUILTIN_PREFIX}{name}\tshipped in the package\t{path}")
        for name, packaged in PACKAGED_MODELS.items():
            state = "cached" if is_ready(packaged) else f"fetched on first use ({packaged.requirement})"
            print(f"{BUILTIN_PREFIX}{name}\t{state}\t{packaged.description}")
        return 0
    packaged = packaged_model(args.name)
    if packaged is None:
        known = ", ".join(BUILTIN_PREFIX + name for name in PACKAGED_MODELS)
        print(f"toolsweep models fetch: {args.name!r} is not a built-in that is fetched; use one of: {known}",
              file=sys.stderr)
        return EXIT_USAGE
    print(materialise(packaged, wheel=args.wheel, force=args.force or args.wheel is not None))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from toolsweep.analysis.report import build_report

    report = build_report(args.run_dir, args.out, variants=not args.no_variants)
    if args.wandb:
        from toolsweep.analysis.rundir import load_run
        from toolsweep.analysis.wandb_logging import log_sweep_run, resolve_wandb, sync_command

        run = load_run(args.run_dir)
        settings = resolve_wandb(run.spec.wandb, run.name, run.path)
        log_sweep_run(settings, run.path, report)
        if sync_command(settings):
            print(f"W&B ran offline; upload with: {sync_command(settings)}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from toolsweep.analysis.export import ExportError, export_winner, push_to_hub

    try:
        provenance = export_winner(args.run_dir, args.out, adapter_only=args.adapter_only)
    except ExportError as exc:
        print(f"toolsweep export failed: {exc}", file=sys.stderr)
        return 1
    verification = provenance["verification"]
    print(f"exported trial {provenance['trial_id']} ({provenance['format']}) to {args.out}: test exact match "
          f"{verification['reproduced']:.1%} reproduced (sweep reported {verification['expected']:.1%})")
    if args.push_to_hub:
        print(f"pushed to {push_to_hub(args.out, args.push_to_hub)}")
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    from toolsweep.cluster.jobs import submit_sweep

    job_id = submit_sweep(args.address, args.sweep, args.overrides, pip=args.pip, installed=args.installed, job_id=args.job_id)
    print(job_id)
    print(f"follow it with: toolsweep logs {job_id} --address {args.address} --follow", file=sys.stderr)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from toolsweep.cluster.jobs import job_status

    info = job_status(args.address, args.job_id)
    print(f"{info['job_id']}: {info['status']}" + (f" ({info['message']})" if info["message"] else ""))
    return 0 if info["status"] != "FAILED" else 1


def _cmd_logs(args: argparse.Namespace) -> int:
    from toolsweep.cluster.jobs import follow_logs

    follow_logs(args.address, args.job_id, follow=args.follow)
    return 0


def _add_job_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", default=_env_default("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"), required=False,
                        help="Ray dashboard address, http://HEAD_IP:8265 (default: $RAY_API_SERVER_ADDRESS or $RAY_ADDRESS)")


def _env_default(*names: str) -> str | None:
    import os

    return next((os.environ[name] for name in names if os.environ.get(name, "").startswith("http")), None)


def _defaults(sweep: object) -> dict[str, object]:
    return {path: domain.default() for path, domain in sweep.space.items()}  # type: ignore[attr-defined]


def _add_eval_parser(verbs: Any) -> None:
    """``toolsweep eval``: one model on our data, a JSONL file, or a standard suite."""
    evaluate = verbs.add_parser("eval", help="score a model's tool calling on our data or the BFCL suite")
    evaluate.add_argument("--model", required=True, help="model directory, hub id, or a built-in: builtin:tiny-tool-lm, "
                          "builtin:smollm2-135m-instruct (`toolsweep models list`)")
    evaluate.add_argument("--data", default="builtin:test", help="builtin:test, builtin:validation, "
                          "builtin:unseen_phrasing (test values, wordings training never saw), a JSONL file, or a "
                          "hub data set")
    evaluate.add_argument("--suite", choices=["bfcl", "when2call"], help="run a standard suite instead of --data: "
                          "bfcl (generation, BFCL's AST verdict) or when2call (multiple choice on the When2Call "
                          "test file given as --data; no generation)")
    evaluate.add_argument("--bfcl-source", help="BFCL data: a bfcl-eval wheel, or a directory (default: installed bfcl_eval)")
    evaluate.add_argument("--live", action="store_true", help="with --suite bfcl: add live_simple/multiple/irrelevance")
    evaluate.add_argument("--categories", metavar="A,B", help="with --suite bfcl: only these categories, e.g. "
                          "simple_python,multiple (default: simple_python, multiple, parallel, parallel_multiple, "
                          "irrelevance)")
    evaluate.add_argument("--n", type=int, help="examples to use (per category for BFCL)")
    evaluate.add_argument("--batch-size", type=int, help="generation batch size (default: fits a token budget)")
    evaluate.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS,
                          help=f"generation limit per answer (default {DEFAULT_MAX_NEW_TOKENS}, as in a sweep file)")
    evaluate.add_argument("--backend", choices=["auto", "hf", "vllm"], default="auto",
                          help="generation engine: vllm needs vLLM and a GPU; auto uses it when both are there "
                          "(default: auto)")
    evaluate.add_argument("--chat-template", metavar="NAME|FILE",
                          help="render prompts with this template instead of the model's own: hermes, smollm2 or a "
                          ".jinja file (as model.chat_template in a sweep file)")
    evaluate.add_argument("--trust-remote-code", action="store_true", help="allow the model repository's code")
    evaluate.add_argument("--out", help="write metrics.json and failures.jsonl here")
    evaluate.set_defaults(handler=_cmd_eval)


def _add_job_parsers(verbs: Any) -> None:
    """``submit``, ``status`` and ``logs``: a sweep as a Ray Job on a cluster's dashboard."""
    submit = verbs.add_parser("submit", help="submit the sweep to a Ray cluster as a Ray Job (prints the job id)")
    _add_sweep_args(submit)
    _add_job_address(submit)
    submit.add_argument("--pip", action="append", default=[], metavar="SPEC",
                        help="install toolsweep in the job with pip (repeatable), e.g. --pip toolsweep==0.1.0 "
                        "(default: ship this checkout's toolsweep package; the cluster provides the dependencies)")
    submit.add_argument("--installed", action="store_true", help="use the toolsweep already installed on the cluster")
    submit.add_argument("--job-id", help="submission id to use (default: generated by Ray)")
    submit.set_defaults(handler=_cmd_submit)

    status = verbs.add_parser("status", help="status of a submitted sweep job")
    status.add_argument("job_id", metavar="JOB_ID")
    _add_job_address(status)
    status.set_defaults(handler=_cmd_status)

    logs = verbs.add_parser("logs", help="logs of a submitted sweep job")
    logs.add_argument("job_id", metavar="JOB_ID")
    _add_job_address(logs)
    logs.add_argument("--follow", "-f", action="store_true", help="keep streaming until the job ends")
    logs.set_defaults(handler=_cmd_logs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolsweep",
        description="Sweep SFT→DPO LoRA fine-tuning recipes for tool calling on Ray Tune, "
        "score them on tool-calling accuracy, and export the winner.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    validate = verbs.add_parser("validate", help="check a sweep file and print its search space")
    _add_sweep_args(validate, optional=True)
    validate.add_argument("--fields", action="store_true",
                          help="print every field of a sweep file: its type, default and description")
    validate.set_defaults(handler=_cmd_validate)

    run = verbs.add_parser("run", help="run the sweep on Ray Tune (local or --address)")
    _add_sweep_args(run)
    run.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    run.add_argument("--address", help="attach to a Ray cluster: HEAD_IP:6379 or auto (default: $RAY_ADDRESS, else a local "
                     "Ray); with token auth set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH")
    run.set_defaults(handler=_cmd_run)

    train = verbs.add_parser("train", help="run one fixed configuration (SFT → DPO → eval), no search")
    _add_sweep_args(train)
    train.add_argument("--out", help="output directory (default: STORAGE/NAME/train-SEED)")
    train.set_defaults(handler=_cmd_train)

    _add_eval_parser(verbs)

    models = verbs.add_parser("models", help="list the built-in models; fetch one into the cache ahead of a run")
    models.add_argument("action", choices=["list", "fetch"], help="list: built-ins and whether they are cached; "
                        "fetch: fetch and convert NAME now")
    models.add_argument("name", nargs="?", default="builtin:smollm2-135m-instruct", metavar="NAME",
                        help="with fetch: the built-in to prepare (default: builtin:smollm2-135m-instruct)")
    models.add_argument("--wheel", help="with fetch: convert this wheel file instead of downloading it (machines "
                        "without access to the package registry)")
    models.add_argument("--force", action="store_true", help="with fetch: convert again even if it is cached")
    models.set_defaults(handler=_cmd_models)

    _add_job_parsers(verbs)


    report = verbs.add_parser("report", help="leaderboard, plots and the variants table of a finished sweep")
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.add_argument("--out", help="where to write the report (default: RUN_DIR/report)")
    report.add_argument("--no-variants", action="store_true",
                        help="skip computing the variants table when the sweep did not (it costs one DPO run)")
    report.add_argument("--wandb", action="store_true", help="also log the sweep-level W&B run (per the sweep's wandb section)")
    report.set_defaults(handler=_cmd_report)

    export = verbs.add_parser("export", help="export the winning configuration's model")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--out", required=True, help="destination directory (written atomically)")
    export.add_argument("--adapter-only", action="store_true", help="keep the LoRA adapter unmerged")
    export.add_argument("--push-to-hub", metavar="REPO", help="also upload to this (private) Hugging Face Hub repo")
    export.set_defaults(handler=_cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toolsweep`` console script; returns the process exit status."""
    args = build_parser().parse_args(argv)
    from toolsweep.errors import TrialFailure, UserError

    try:
        return args.handler(args)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except TrialFailure as exc:
        print(f"toolsweep {args.verb}: the run failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
