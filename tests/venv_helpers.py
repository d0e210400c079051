"""Clean virtual environments that have torch but not the course: how Colab and Binder meet the repo.

Used by ``tests/test_colab_cell.py`` and ``tests/test_binder.py``; not a test module itself.

- :func:`torch_only_site` makes a folder of symlinks to torch and the packages torch needs (taken
  from the interpreter running the tests), and nothing else. A fresh venv sees it through a
  ``.pth`` file, so torch is *there* the way Colab's preinstalled torch is, without copying or
  reinstalling 1 GB. pip treats it as installed (and would refuse to uninstall it: it lies outside
  the venv), so a reinstall shows up as a second torch inside the venv's own site-packages.
- :func:`clean_venv` creates the venv (with pip, from the base interpreter) and adds that ``.pth``.
- :func:`worktree_clone` turns the working tree (tracked files plus untracked, not ignored ones)
  into a one-commit git repository, so ``pip install "llm-lab @ git+file://…"`` installs exactly the
  code under test, uncommitted edits included.
"""
from __future__ import annotations

import atexit
import functools
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
SKIP_DISTS = {"pip", "setuptools", "wheel"}       # a fresh venv brings its own
IS_GIT_TREE = (ROOT / ".git").exists()           # the clone is made from `git ls-files`


def _key(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def requirement_closure(top: str = "torch") -> list[md.Distribution]:
    """``top`` and every distribution it needs (no extras), as installed for this interpreter."""
    seen: dict[str, md.Distribution] = {}
    todo = [top]
    while todo:
        name = todo.pop()
        if _key(name) in seen or _key(name) in SKIP_DISTS:
            continue
        dist = md.distribution(name)
        seen[_key(name)] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


def torch_only_site(dest: Path) -> Path:
    """A folder holding symlinks to torch's files and its dependencies' (packages and dist-info)."""
    dest.mkdir(parents=True, exist_ok=True)
    for dist in requirement_closure("torch"):
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in sorted(tops - {"__pycache__"}):
            if top.endswith(".pth") or (dest / top).exists():
                continue
            (dest / top).symlink_to(base / top)
    return dest


def base_python() -> str:
    """The interpreter the running venv was made from (a venv of a venv would inherit nothing, but be clear)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def clean_venv(path: Path, torch_site: Path | None) -> Path:
    """Create a venv at ``path`` (with a current pip); if ``torch_site`` is given, make it visible via a ``.pth``. Returns its python."""
    subprocess.run([base_python(), "-m", "venv", str(path)], check=True, capture_output=True)
    python = path / "bin" / "python"
    # a current pip, as Colab and `make setup` have (the one ensurepip bundles rejects ``git+file:///`` URLs)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True, capture_output=True)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    if torch_site is not None:
        Path(purelib, "_torch_from_outside.pth").write_text(f"{torch_site}\n")
    return python


def venv_env(python: Path, home: Path, **extra: str) -> dict:
    """Environment for commands in the venv: its bin first on PATH, a private HOME and cache, offline."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIRTUAL_ENV", "PYTHON", "LABUTILS_", "PIP_CONSTRAINT"))}
    env.update(PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(python.parent.parent),
               HOME=str(home), LABUTILS_HOME=str(home / ".cache" / "labutils"),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               JUPYTER_RUNTIME_DIR=str(home / "jr"), IPYTHONDIR=str(home / "ipy"), MPLCONFIGDIR=str(home / "mpl"),
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_CACHE_DIR=_pip_cache())
    env.update(extra)
    return env


def _pip_cache() -> str:
    """Share the user's pip cache (wheels built from sdists once are reused), as a learner's machine would."""
    out = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True)
    return out.stdout.strip() or str(Path.home() / ".cache" / "pip")


def torch_location(python: Path, env: dict) -> dict:
    """Where and which torch the venv imports, and whether a copy sits inside the venv itself."""
    code = ("import json, sysconfig, pathlib, torch; p = sysconfig.get_paths()['purelib'];"
            "print(json.dumps({'file': torch.__file__, 'version': torch.__version__,"
            " 'inside_venv': (pathlib.Path(p) / 'torch').exists()}))")
    out = subprocess.run([str(python), "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def worktree_files(root: Path = ROOT) -> list[str]:
    """Tracked files plus untracked files git does not ignore (what a commit of this tree would hold)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         check=True, capture_output=True).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (root / f).is_file()})


def worktree_clone(dest: Path, root: Path = ROOT) -> Path:
    """Copy the working tree into ``dest`` and commit it there once; returns ``dest`` (a git repository)."""
    for rel in worktree_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    git = ["git", "-c", "user.name=LLM Lab tests", "-c", "user.email=tests@llm-lab.invalid",
           "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
    subprocess.run(git + ["init", "-q"], cwd=dest, check=True)
    subprocess.run(git + ["add", "-A"], cwd=dest, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "working tree under test"], cwd=dest, check=True)
    return dest


def run(cmd: list[str], env: dict, cwd: Path | None = None, timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run ``cmd``, capturing its output; raise with the output's tail if it fails."""
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))[:300]} exited {proc.returncode}\n"
                             f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
    return proc


@functools.lru_cache(maxsize=None)
def shared(name: str) -> Path:
    """One folder per name for this test process, removed at exit: the clone, the torch site and the
    learner's HOME (data cache) are built once and shared by the Colab and the Binder tests."""
    root = _session_root()
    if name == "clone":
        return worktree_clone(root / "clone")
    if name == "torch_site":
        return torch_only_site(root / "torch_site")
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.lru_cache(maxsize=None)
def _session_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="llmlab-cleanvenv-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root
