"""``binder/`` and ``environment.yml``: the files parse, their versions agree with ``constraints.txt``,
the CPU torch is the one they ask for, and ``binder/postBuild`` runs in a clean venv.

The clean venv (see ``tests/venv_helpers.py``) has torch visible from outside, as repo2docker's
image has it after ``binder/requirements.txt``; postBuild then installs the course with the tested
versions and prepares the offline data. Slow: a full dependency install (minutes on 2 busy cores).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import venv_helpers as vh
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pins(path: Path) -> dict[str, str]:
    """``name -> version`` for every ``name==version`` line of a requirements/constraints file."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        exact = [s.version for s in req.specifier if s.operator == "=="]
        if exact:
            out[req.name.lower().replace("_", "-")] = exact[0]
    return out


def options(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip().startswith("-")]


def runtime_python() -> str:
    text = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(\d+\.\d+)", text)
    assert m, f"binder/runtime.txt must read like `python-3.11`, not {text!r}"
    return m.group(1)


def test_runtime_python_is_the_tested_one_and_allowed_by_pyproject():
    version = runtime_python()
    comments = "\n".join(ln for ln in (ROOT / "constraints.txt").read_text().splitlines() if ln.startswith("#"))
    tested = re.search(r"Python (\d+\.\d+)", comments)
    assert tested and tested.group(1) == version, f"constraints.txt says it was tested on {tested and tested.group(0)}"
    import tomllib
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(f"{version}.0"), requires


def test_binder_requirements_pin_the_tested_cpu_torch():
    tested = pins(ROOT / "constraints.txt")
    binder = pins(BINDER / "requirements.txt")
    assert "torch" in binder, "binder/requirements.txt must pin torch (else repo2docker pulls the newest CUDA build)"
    for name, version in binder.items():
        assert tested.get(name) == version, f"{name}=={version} in binder/requirements.txt, {tested.get(name)} tested"
    assert any(CPU_INDEX in opt for opt in options(BINDER / "requirements.txt")), "no CPU index for torch"


def test_postbuild_is_a_bash_script_that_parses_and_installs_with_the_constraints():
    post = BINDER / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -e" in text
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(post)], check=True)
    assert "-c constraints.txt" in text and "labutils data prepare" in text


def test_environment_yml_installs_the_cpu_torch_that_was_tested():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert f"python={runtime_python()}" in conda, conda
    bad = [d for d in conda if re.match(r"(pytorch|torch|cudatoolkit|cuda|pytorch-cuda)\b", d)]
    assert not bad, f"conda would install a torch build of its own choosing: {bad}"
    assert any(line.split()[:2] in (["--extra-index-url", CPU_INDEX], ["--index-url", CPU_INDEX])
               for line in pip_section), pip_section
    torch_lines = [ln for ln in pip_section if re.match(r"torch\s*==", ln)]
    assert torch_lines, "environment.yml must pin torch in its pip section"
    assert Requirement(torch_lines[0]).specifier == SpecifierSet(f"=={pins(ROOT / 'constraints.txt')['torch']}")
    editable = next(i for i, ln in enumerate(pip_section) if ln.startswith("-e "))
    assert pip_section.index(torch_lines[0]) < editable and "-c constraints.txt" in pip_section


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("git") is None or not vh.IS_GIT_TREE,
                    reason="needs bash, git and a git work tree")
def test_postbuild_runs_in_a_clean_venv(tmp_path):
    t0 = time.perf_counter()
    clone, home = vh.shared("clone"), vh.shared("home")
    python = vh.clean_venv(vh.shared("venv-binder"), vh.shared("torch_site"))     # ~1.5 GB, removed at exit
    env = vh.venv_env(python, home, PIP_TIMEOUT="5", PIP_RETRIES="0")
    before = vh.torch_location(python, env)
    # repo2docker's first step: the pinned torch is already there, so pip has nothing to fetch
    req = vh.run([str(python), "-m", "pip", "install", "-r", "binder/requirements.txt"], env=env, cwd=clone)
    assert "already satisfied" in req.stdout.lower(), req.stdout[-2000:]
    post = vh.run(["bash", "binder/postBuild"], env=env, cwd=clone)
    out = post.stdout + post.stderr
    assert "Preparing" in out and "FAILED" not in out, out[-3000:]
    check = ("import json, importlib.util, labutils as lu; rows = lu.data.list_datasets(show=False);"
             "print(json.dumps({'file': lu.__file__, 'lab': importlib.util.find_spec('jupyterlab') is not None,"
             " 'missing': [r['name'] for r in rows if not r['available'] and not r.get('optional')]}))")
    facts = json.loads(vh.run([str(python), "-c", check], env=env, cwd=tmp_path).stdout.strip().splitlines()[-1])
    assert facts["file"].startswith(str(clone)), facts                   # `pip install -e .` of the repo
    assert facts["lab"] and facts["missing"] == [], facts
    assert vh.torch_location(python, env) == before, "postBuild reinstalled torch"
    print(f"\nbinder postBuild in a clean venv: {time.perf_counter() - t0:.1f} s")
