"""Notebook 15, the capstone pipeline as one object: settings per profile, stages that write their outputs
atomically and are skipped when those outputs exist (resumable), one progress bar per stage.

    >>> pipe = Pipeline(PipelineConfig("sentiment_zh", method="lora"))      # doctest: +SKIP
    >>> pipe.run()                          # every stage; or pipe.run_stage("data"), ... one by one

Each stage ``S`` writes the directory ``OUT/S/`` (``result.json`` plus its files) through
:func:`labutils.core.io.atomic_dir`, so an interrupted stage leaves nothing a later run would take for finished;
the model card and the report table end up at ``OUT/model_card.md`` and ``OUT/report.md``. The stage functions live
in :mod:`.stages` (data → model) and :mod:`.deploy` (export → card).
"""
from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Any, Callable

from labutils.chapters.capstone.data import PipelineError, load_labelled
from labutils.chapters.capstone.spec import (  # noqa: F401 (re-exported)
    LANGUAGES,
    METHODS,
    MODELS,
    SETTINGS,
    STAGES,
    TITLES,
    VERSION,
)

# what must match for a resumed run to continue in the same output directory
_IDENTITY = ("version", "data", "text_column", "label_column", "language", "method", "compress", "profile", "seed", "model")


@dataclasses.dataclass
class PipelineConfig:
    """What one run does: the data (course name or file), its columns, language (None: detected), method
    (``full`` or ``lora``), compression on/off, profile (None: the current one), seed, and the base model
    (``minilm``: the bundled pretrained encoder; ``tiny``: a tiny random BERT for tests)."""

    data: str
    text_column: str = "text"
    label_column: str = "label"
    language: str | None = None
    method: str = "full"
    compress: bool = True
    profile: str | None = None
    seed: int = 0
    model: str = "minilm"
    overrides: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        from labutils.core.profiles import PROFILES, current
        self.data = str(self.data) if self.data is not None else ""
        self.profile = current() if self.profile in (None, "") else str(self.profile).strip().lower()
        if self.profile not in PROFILES:
            raise PipelineError(f"Unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}.")
        if self.method not in METHODS:
            raise PipelineError(f"Unknown method {self.method!r}; choose 'full' or 'lora'.")
        if self.language is not None and self.language not in LANGUAGES:
            raise PipelineError(f"Unknown language {self.language!r}; choose 'en' or 'zh' (or leave it out to detect).")
        if self.model not in MODELS:
            raise PipelineError(f"Unknown model {self.model!r}; choose 'minilm' or 'tiny'.")
        unknown = sorted(set(self.overrides) - set(SETTINGS["smoke"]))
        if unknown:
            raise PipelineError(f"Unknown setting {unknown[0]!r}; valid settings: {', '.join(SETTINGS['smoke'])}.")

    @property
    def settings(self) -> dict:
        """The sizes of this profile (see :data:`SETTINGS`), with ``overrides`` applied."""
        return {**SETTINGS[self.profile], **self.overrides}

    def identity(self) -> dict:
        return ({"version": VERSION} | {k: getattr(self, k) for k in _IDENTITY[1:]}
                | {"overrides": dict(sorted(self.overrides.items()))})


def default_out(cfg: PipelineConfig) -> Path:
    """``cache_home("15_capstone", "<data>-<method>-<profile>")`` (not created here)."""
    from labutils.core.env import cache_home
    stem = Path(cfg.data).stem if any(c in cfg.data for c in "/\\.") else cfg.data
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "data"
    return cache_home("15_capstone", create=False) / f"{slug}-{cfg.method}-{cfg.profile}"


class Pipeline:
    """The capstone run over ``cfg`` into ``out`` (default :func:`default_out`). :meth:`prepare` validates the
    input (nothing is written before it passes); :meth:`run_stage` runs or skips one stage; :meth:`run` all."""

    def __init__(self, cfg: PipelineConfig, out: str | Path | None = None, progress: bool = True,
                 log: Callable[[str], None] | None = print):
        self.cfg, self.progress, self.log = cfg, progress, (log or (lambda s: None))
        self.out = Path(out).expanduser() if out is not None else default_out(cfg)
        self._raw = None
        self.source: dict | None = None
        self.timings: dict[str, dict] = {}

    # ---------------------------------------------------------------- input and state
    def prepare(self) -> "Pipeline":
        """Validate the data and the output directory; raises :class:`PipelineError` before writing anything."""
        cfg_file = self.out / "config.json"
        if self.out.exists() and not self.out.is_dir():
            raise PipelineError(f"The output path {self.out} is a file; give a directory for --out.")
        if cfg_file.is_file():
            before = json.loads(cfg_file.read_text(encoding="utf-8"))
            diff = [k for k, v in self.cfg.identity().items() if before.get(k) != v]
            if diff:
                raise PipelineError(f"{self.out} holds a run with another {diff[0]} ({before.get(diff[0])!r}); "
                                    "use another --out directory or delete that one.")
        elif self.out.is_dir() and any(p for p in self.out.iterdir() if not p.name.startswith(".tmp-")):
            raise PipelineError(f"{self.out} exists and is not a pipeline run; give an empty or new --out directory.")
        import importlib.util
        if importlib.util.find_spec("sklearn") is None:
            raise PipelineError("The baseline stage needs scikit-learn; run `pip install scikit-learn` (or "
                                "`make setup`) and try again.")
        if not self.done("data"):
            self._raw, self.source = load_labelled(self.cfg.data, self.cfg.text_column, self.cfg.label_column,
                                                   seed=self.cfg.seed)
        return self

    def _write_config(self) -> None:
        from labutils.core.io import atomic_write_text
        if not (self.out / "config.json").is_file():
            atomic_write_text(self.out / "config.json", json.dumps(self.cfg.identity(), indent=1, ensure_ascii=False))

    def path(self, *parts: str) -> Path:
        """A path inside the output directory."""
        return self.out.joinpath(*parts)

    def done(self, stage: str) -> bool:
        """Whether ``stage`` has finished in this output directory (its ``result.json`` exists)."""
        ok = (self.out / stage / "result.json").is_file()
        return ok and (stage != "card" or (self.out / "model_card.md").is_file())

    def result(self, stage: str) -> dict:
        """The ``result.json`` of a finished stage."""
        p = self.out / stage / "result.json"
        if not p.is_file():
            raise PipelineError(f"Stage {stage!r} has not run yet in {self.out}; run it first (stages: "
                                f"{', '.join(STAGES)}).")
        return json.loads(p.read_text(encoding="utf-8"))

    def results(self) -> dict[str, dict]:
        """Every finished stage's result, by stage."""
        return {s: self.result(s) for s in STAGES if self.done(s)}

    def dataset(self):
        """The checked splits the data stage saved (``train / validation / test``, columns text and label)."""
        import datasets
        return datasets.load_from_disk(str(self.path("data", "dataset")))

    def language(self) -> str:
        return self.result("data")["language"]

    # ---------------------------------------------------------------- running
    def run_stage(self, stage: str, force: bool = False) -> dict:
        """Run ``stage`` unless its outputs exist (then its stored result is returned); one progress bar."""
        from labutils.chapters.capstone import deploy, stages
        from labutils.core.io import atomic_dir
        from labutils.core.progress import tqdm
        if stage not in STAGES:
            raise PipelineError(f"Unknown stage {stage!r}; stages: {', '.join(STAGES)}.")
        k = STAGES.index(stage)
        if self.done(stage) and not force:
            self.timings[stage] = {"status": "skipped (done before)", "seconds": 0.0}
            self.log(f"[{k + 1}/{len(STAGES)}] {TITLES[stage]}: done before, skipped ({self.out / stage})")
            return self.result(stage)
        for dep in STAGES[:k]:
            if not self.done(dep):
                raise PipelineError(f"Stage {stage!r} needs {dep!r} first; run the stages in order: "
                                    f"{', '.join(STAGES)}.")
        if stage == "data" and self._raw is None:
            self.prepare()
        fn = getattr(stages, f"stage_{stage}", None) or getattr(deploy, f"stage_{stage}")
        self.out.mkdir(parents=True, exist_ok=True)
        self._write_config()
        t0 = time.perf_counter()
        bar = tqdm(total=fn.steps, desc=f"[{k + 1}/{len(STAGES)}] {TITLES[stage]}", disable=not self.progress)
        try:
            with atomic_dir(self.out / stage, complete="result.json") as tmp:
                res = fn(self, tmp, bar)
                res["seconds"] = round(time.perf_counter() - t0, 2)
                (tmp / "result.json").write_text(json.dumps(_plain(res), indent=1, ensure_ascii=False),
                                                 encoding="utf-8")
        finally:
            bar.close()
        if stage == "card":
            deploy.publish_card(self)
        self.timings[stage] = {"status": "ran", "seconds": res["seconds"]}
        return self.result(stage)

    def run(self, stages: tuple[str, ...] | None = None) -> dict[str, dict]:
        """Every stage in order (skipping finished ones); returns the results by stage."""
        self.prepare()
        for stage in stages or STAGES:
            self.run_stage(stage)
        return self.results()

    def figures(self) -> dict[str, Any]:
        """Every figure measured in this run, flat (what the model card's table lists)."""
        from labutils.chapters.capstone.card import collect_figures
        return collect_figures(self.results())


def _plain(value: Any) -> Any:
    from labutils.core.results import to_jsonable
    return to_jsonable(value)
