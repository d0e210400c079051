"""Command line: ``python -m labutils doctor | run | report | data | freeze | sync-notebooks``."""
from __future__ import annotations

import argparse
import os
import sys
import time

from labutils.core.errors import CLIError, LabError  # noqa: F401 (re-exported)

EXIT_USAGE = 2


# ----------------------------------------------------------------------------------- doctor
def cmd_doctor(args: argparse.Namespace) -> int:
    from labutils.core import env, profiles
    print(f"LLM Lab doctor · python {sys.version.split()[0]} at {sys.executable}")
    if not env.torch_available():
        print("✗ torch is not installed in this environment; run `make setup` (or "
              "`pip install torch==2.13.0 && pip install -e .`) and try again.")
        return 1
    import importlib
    problems = 0
    print("\nHardware and platform")
    print(env.describe())
    print("\nPackages")
    for mod in ("torch", "transformers", "tokenizers", "datasets", "evaluate", "peft", "accelerate",
                "safetensors", "sklearn", "plotly", "ipywidgets", "papermill", "jieba", "onnxruntime",
                "jupyterlab", "nbval"):
        try:
            m = importlib.import_module(mod)
            print(f"  ✓ {mod:<13} {getattr(m, '__version__', '?')}")
        except Exception as err:  # noqa: BLE001 - report any import failure
            optional = mod in ("onnxruntime", "jupyterlab", "nbval")
            print(f"  {'·' if optional else '✗'} {mod:<13} missing ({type(err).__name__})"
                  + (" - optional" if optional else ""))
            problems += 0 if optional else 1
    try:
        name, reason = profiles.explain()
        print(f"\nProfile: {name} ({reason})")
    except profiles.ProfileError as err:
        print(f"\n✗ {err}")
        problems += 1
    print(f"Cache home: {env.cache_home()}")
    print(f"Hub access: {'off (HF_HUB_OFFLINE=1)' if os.environ.get('HF_HUB_OFFLINE') == '1' else 'allowed if reachable'}")
    try:
        from labutils import data
        rows = data.list_datasets(show=False)
        missing = [r["name"] for r in rows if not r["available"] and not r.get("optional")]
        print(f"Data sets: {len(rows) - len(missing)}/{len(rows)} available"
              + (f"; missing {', '.join(missing)}: run `python -m labutils data prepare`" if missing else ""))
        problems += bool(missing)
    except ImportError:
        print("Data sets: labutils.data not available in this version")
    print("\n" + ("✓ All good." if not problems else f"✗ {problems} problem(s) above."))
    return 0 if not problems else 1


def cmd_run(args: argparse.Namespace) -> int:
    from labutils.core import env, profiles, results
    profile = profiles.explain(args.profile)[0]
    from labutils.tools.notebooks import _find_notebooks, execute_notebook
    notebooks = _find_notebooks(args.notebooks)
    os.environ["LABUTILS_PROFILE"] = profile
    target = os.environ.get("LABUTILS_RESULTS")
    if not target:
        target = str(env.cache_home("runs") / f"results-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
        os.environ["LABUTILS_RESULTS"] = target
    rows, failed = [], 0
    for nb in notebooks:
        before = len(results.read(target))
        t0 = time.perf_counter()
        out = env.cache_home("runs", profile) / nb.name
        try:
            execute_notebook(nb, profile, out, timeout=args.timeout)
            status = "ok"
        except Exception as err:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            first = str(err).strip().splitlines()
            status = f"FAILED: {type(err).__name__}" + (f" {first[-1][:80]}" if first else "")
        secs = time.perf_counter() - t0
        figs = results.read(target)[before:]
        from labutils.tools.report import record_run
        record_run(target, nb.stem, profile, secs, "ok" if status == "ok" else "failed")  # for report/README
        figtext = ", ".join(f"{e['name']}={results._fmt(e['value'])}" for e in figs[:6])
        figtext += f" (+{len(figs) - 6} more)" if len(figs) > 6 else ""
        rows.append((nb.stem, status, f"{secs:.1f}", figtext or "-"))
        print(f"  {nb.stem}: {status} in {secs:.1f}s", flush=True)
    from labutils.tools.report import print_table
    print_table(("notebook", "status", "seconds", "recorded figures"), rows)
    print(f"\nprofile {profile}; figures in {target}; executed notebooks in {env.cache_home('runs', profile)}")
    return 1 if failed else 0


# ------------------------------------------------------------------------------------- data
def cmd_data(args: argparse.Namespace) -> int:
    from labutils import data
    if args.action == "list":
        data.list_datasets(show=True)
        return 0
    names = list(args.names or [])
    valid = [r["name"] for r in data.list_datasets(show=False)] + ["chat_lm"]
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise CLIError(f"Unknown name {unknown[0]!r}; valid names: {', '.join(valid)}.")
    want_chat = not names or "chat_lm" in names          # the pretrained chat LM is prepared with the data
    names = [n for n in names if n != "chat_lm"]
    ok = True if (args.names and not names) else data.prepare_all(force=args.force, names=names or None)
    if want_chat:
        import time

        from labutils.models import chat
        t0 = time.perf_counter()
        already = chat.chat_lm_info()["prepared"] and not args.force
        path = chat.prepare_chat_lm(force=args.force)
        print(f"  {'chat_lm':<13} {'prepared' if already else 'converted':<11} {chat.MODEL_NAME} "
              f"{time.perf_counter() - t0:5.1f} s  {path}")
    return 0 if ok else 1


# ------------------------------------------------------------------------- notebook upkeep
def cmd_freeze(args: argparse.Namespace) -> int:
    """Run notebooks in smoke, keep only outputs of ``# NBVAL_CHECK_OUTPUT`` cells, write back."""
    from labutils.tools import notebooks as notebook_tools
    for nb in notebook_tools._find_notebooks(args.notebooks):
        t0 = time.perf_counter()
        notebook_tools.freeze(nb)
        print(f"froze {nb.name} in {time.perf_counter() - t0:.1f}s")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from labutils.tools import notebooks as notebook_tools
    for nb in notebook_tools._find_notebooks(args.notebooks):
        changed = notebook_tools.sync_install_cell(nb)
        print(f"{nb.name}: {'updated' if changed else 'up to date'}")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from labutils.tools.site import build_site
    build_site(args.out, profile=args.profile, notebooks=args.notebooks, execute=args.execute, timeout=args.timeout)
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    from labutils.tools.lab import launch
    return launch(args.paths)


def cmd_serve(args: argparse.Namespace) -> int:
    from labutils.chapters.serving.app import serve
    serve(args.kind, port=args.port, host=args.host, token=args.token, onnx_path=args.onnx,
          batching=not args.no_batching, int8=args.int8, tiny=args.tiny, threads=args.threads,
          max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, batch_workers=args.batch_workers)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labutils", description="LLM Lab helper commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check the install and describe this machine").set_defaults(fn=cmd_doctor)
    p = sub.add_parser("run", help="execute notebooks with papermill and tabulate the results")
    p.add_argument("notebooks", nargs="*", help="paths, stems or numbers (default: all)")
    p.add_argument("--profile", default=None, help="smoke, cpu or gpu (default: LABUTILS_PROFILE or auto)")
    p.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    p.set_defaults(fn=cmd_run)
    from labutils.tools import grade as grade_tool
    from labutils.tools import report as report_tool
    report_tool.add_parser(sub)  # report [FILE] [--html OUT] [--readme]: the table, an HTML page, the course map
    grade_tool.add_parser(sub)   # grade SUBMISSIONS_DIR: workshop grading
    p = sub.add_parser("data", help="offline data sets: list or prepare")
    p.add_argument("action", choices=["list", "prepare"])
    p.add_argument("names", nargs="*", help="only these data sets (prepare)")
    p.add_argument("--force", action="store_true", help="rebuild even if prepared")
    p.set_defaults(fn=cmd_data)
    p = sub.add_parser("freeze", help="(maintainers) store the smoke outputs of NBVAL_CHECK_OUTPUT cells")
    p.add_argument("notebooks", nargs="*")
    p.set_defaults(fn=cmd_freeze)
    p = sub.add_parser("sync-notebooks", help="(maintainers) rewrite each notebook's install cell")
    p.add_argument("notebooks", nargs="*")
    p.set_defaults(fn=cmd_sync)
    p = sub.add_parser("lab", help="open JupyterLab (also as root) and print its URL with the token; "
                       "LAB_PORT, LAB_ARGS override")
    p.add_argument("paths", nargs="*", help="files or folders to open")
    p.set_defaults(fn=cmd_lab)
    p = sub.add_parser("site", help="static HTML of the executed course (runs what is missing), with an index")
    p.add_argument("notebooks", nargs="*", help="paths, stems or numbers (default: all)")
    p.add_argument("--profile", default="cpu", help="whose executed notebooks to render (default: cpu)")
    p.add_argument("--out", default="build/site", help="output folder (default: build/site)")
    p.add_argument("--execute", default="missing", choices=["missing", "all", "none"],
                   help="run notebooks with no executed copy or a stale one (default), all, or none")
    p.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    p.set_defaults(fn=cmd_site)
    p = sub.add_parser("serve", help="serve a model over HTTP (FastAPI + uvicorn, loopback by default)")
    p.add_argument("kind", choices=["classifier", "lm", "all"], help="all: classifier and chat LM in one process")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN'")
    p.add_argument("--onnx", default=None, help="classifier: an ONNX file (default: notebook 06's classifier "
                   "of the current profile, exported once; else a tiny random one)")
    p.add_argument("--int8", action="store_true", help="classifier: serve the ONNX Runtime dynamic-int8 model")
    p.add_argument("--tiny", action="store_true", help="classifier: the tiny random model (tests)")
    p.add_argument("--no-batching", action="store_true", help="classifier: one request at a time, no dynamic batching")
    p.add_argument("--threads", type=int, default=1, help="classifier: ONNX Runtime intra-op threads")
    p.add_argument("--max-batch", type=int, default=16, help="dynamic batching: largest batch")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="dynamic batching: longest wait for a batch")
    p.add_argument("--batch-workers", type=int, default=2, help="dynamic batching: batches computed at once")
    p.set_defaults(fn=cmd_serve)
    from labutils.tools.pipeline import add_pipeline_parser
    add_pipeline_parser(sub)     # pipeline --data FILE_OR_NAME ...: notebook 15's capstone, headless
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["data"] and "--force" in argv:  # let --force stand anywhere: data prepare --force kjv
        argv = ["data", "--force"] + [a for a in argv[1:] if a != "--force"]
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except LabError as err:  # every mistake a learner can make: one sentence, no traceback
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE

