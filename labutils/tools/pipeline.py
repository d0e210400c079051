"""``python -m labutils pipeline``: notebook 15's capstone pipeline headless.

    python -m labutils pipeline --data reviews.csv --text-column review --label-column stars --method lora

Data checks → TF-IDF baseline → fine-tuning (full or LoRA, early stopping) → test once (calibration, errors) →
ONNX export (parity) → int8 → the HTTP service on a free port → a bounded load test → model card and report, all
under ``--out`` (default ``cache_home("15_capstone", ...)``). A progress bar per stage; stages whose outputs
exist are skipped, so an interrupted run continues where it stopped. Bad input (a missing file, a misnamed
column, one class only, an empty or non-UTF-8 file, a label column with hundreds of values) is one sentence and
exit status 2, and nothing is written.
"""
from __future__ import annotations

import argparse
import time


def add_pipeline_parser(sub) -> None:
    """Register the ``pipeline`` command on the ``python -m labutils`` sub-parsers."""
    p = sub.add_parser("pipeline", help="notebook 15's capstone: data to a served, compressed, evaluated model")
    p.add_argument("--data", required=True, help="a course data set (sentiment_zh, sentiment_en) or a CSV/JSONL file")
    p.add_argument("--text-column", default="text", help="column holding the text (default: text)")
    p.add_argument("--label-column", default="label", help="column holding the class (default: label)")
    p.add_argument("--method", choices=["full", "lora"], default="full", help="full fine-tuning or LoRA")
    p.add_argument("--language", choices=["en", "zh"], default=None, help="language of the text (default: detect)")
    p.add_argument("--no-compress", action="store_true", help="skip int8 and serve the fp32 ONNX model")
    p.add_argument("--out", default=None, help="output directory (default: under the cache home)")
    p.add_argument("--profile", default=None, help="smoke, cpu or gpu (default: LABUTILS_PROFILE or auto)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)   # tests: a tiny random BERT
    p.add_argument("--stages", default=None, help=argparse.SUPPRESS)        # tests: stop after these stages
    p.set_defaults(fn=cmd_pipeline)


def cmd_pipeline(args: argparse.Namespace) -> int:
    from labutils.chapters.capstone import STAGES, TITLES, Pipeline, PipelineConfig, PipelineError
    from labutils.core import env, profiles
    profile = profiles.explain(args.profile)[0]
    profiles._set_current(profile, "set by --profile" if args.profile else "resolved for the pipeline command")
    env.import_torchao_quietly()      # before transformers imports it noisily (see core.env)
    env.quiet()
    cfg = PipelineConfig(args.data, text_column=args.text_column, label_column=args.label_column,
                         language=args.language, method=args.method, compress=not args.no_compress,
                         profile=profile, seed=args.seed, model="tiny" if args.tiny else "minilm")
    stages = STAGES
    if args.stages:
        stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
        bad = [s for s in stages if s not in STAGES]
        if bad:
            raise PipelineError(f"Unknown stage {bad[0]!r}; stages: {', '.join(STAGES)}.")
    env.seed_everything(args.seed)
    pipe = Pipeline(cfg, out=args.out).prepare()
    print(f"capstone pipeline · data {cfg.data} · method {cfg.method} · profile {profile} · out {pipe.out}",
          flush=True)
    t0 = time.perf_counter()
    for stage in stages:
        pipe.run_stage(stage)
    done = pipe.results()
    print()
    rows = [(TITLES[s], pipe.timings.get(s, {}).get("status", "done" if s in done else "not run"),
             f"{done[s]['seconds']:.1f}" if s in done else "-") for s in STAGES]
    width = max(len(r[0]) for r in rows)
    for name, status, secs in rows:
        print(f"  {name:<{width}}  {status:<21} {secs:>7} s")
    figs = pipe.figures()
    heads = [k for k in ("test_accuracy", "baseline_test_accuracy", "majority_chance", "test_ece",
                         "onnx_parity_max_diff", "int8_size_ratio", "load_rps", "load_p99_ms", "load_5xx") if k in figs]
    if heads:
        from labutils.chapters.capstone import fmt
        print("  " + ", ".join(f"{k}={fmt(figs[k])}" for k in heads))
    if pipe.done("card"):
        print(f"model card: {pipe.path('model_card.md')}\nreport: {pipe.path('report.md')}")
    print(f"total {time.perf_counter() - t0:.1f} s", flush=True)
    return 0
