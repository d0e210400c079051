"""The first cell of every notebook, run the way Colab runs it.

A clean virtual environment that has torch (visible from outside, as Colab's preinstalled one
is) but not the course runs :data:`labutils.core.meta.INSTALL_CELL` with ``LABUTILS_REPO_URL``
pointed at a local git clone of the working tree. Then: the package is installed (into the venv,
not editable), ``labutils data prepare`` ran and every non-optional data set is available, torch
is the same file and version as before (not reinstalled), the notebook goes on (``lu.start``, a
data set loads), and notebook 00 runs top to bottom in the smoke profile in that venv.

Slow (a full dependency install from the local package indexes, minutes on 2 busy cores).
pip resolves against ``constraints.txt`` here (``PIP_CONSTRAINT``) so the test is offline and
deterministic; on Colab the same cell resolves against the ranges in ``pyproject.toml``.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import venv_helpers as vh

from labutils.core.meta import INSTALL_CELL, REPO_URL, REPO_URL_VAR

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("git") is None or not vh.IS_GIT_TREE,
                                 reason="needs git and a git work tree to install from a clone")]

GOES_ON = """
import json, sysconfig, labutils as lu
ctx = lu.start("00_welcome_and_setup", profile="smoke", show=False)
rows = lu.data.list_datasets(show=False)
ds = lu.data.load("sentiment_en")
print(json.dumps({"profile": ctx.profile,
                  "labutils": lu.__file__, "purelib": sysconfig.get_paths()["purelib"],
                  "missing": [r["name"] for r in rows if not r["available"] and not r.get("optional")],
                  "train_rows": len(ds["train"])}))
"""


def test_install_cell_reads_the_repository_url_from_the_environment():
    assert REPO_URL_VAR in INSTALL_CELL and REPO_URL in INSTALL_CELL
    compile(INSTALL_CELL, "install-cell", "exec")           # plain Python: no magics Colab-only


def test_colab_first_cell_installs_the_course_without_touching_torch(tmp_path):
    t0 = time.perf_counter()
    clone, home = vh.shared("clone"), vh.shared("home")
    python = vh.clean_venv(vh.shared("venv-colab"), vh.shared("torch_site"))     # ~1.5 GB, removed at exit
    env = vh.venv_env(python, home, **{REPO_URL_VAR: f"file://{clone}",
                                       "PIP_CONSTRAINT": str(clone / "constraints.txt")})
    before = vh.torch_location(python, env)
    assert not before["inside_venv"]
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('labutils'))"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "None", "the clean venv must not see the course yet"
    t_venv = time.perf_counter() - t0

    cell = vh.run([str(python), "-c", INSTALL_CELL], env=env, cwd=tmp_path)   # cwd: not the repo
    t_cell = time.perf_counter() - t0 - t_venv
    out = cell.stdout + cell.stderr
    assert "Preparing" in out and "data set(s) in" in out, f"`labutils data prepare` did not run:\n{out[-3000:]}"
    assert "FAILED" not in out, out[-3000:]

    after = vh.torch_location(python, env)
    assert after == before, f"torch changed: {before} -> {after}"

    goes_on = vh.run([str(python), "-c", GOES_ON], env=env, cwd=tmp_path)
    facts = json.loads(goes_on.stdout.strip().splitlines()[-1])
    assert facts["labutils"].startswith(facts["purelib"]), facts            # installed into the venv
    assert facts["missing"] == [] and facts["train_rows"] > 100 and facts["profile"] == "smoke", facts

    nb = vh.run([str(python), "-m", "labutils", "run", "00", "--profile", "smoke"],
                env={**env, "LABUTILS_HEADLESS": "1", "LABUTILS_RESULTS": str(tmp_path / "r.jsonl")}, cwd=clone)
    assert "00_welcome_and_setup: ok" in nb.stdout, nb.stdout[-3000:]
    assert vh.torch_location(python, env) == before
    print(f"\ncolab cell: venv {t_venv:.1f} s, install cell {t_cell:.1f} s, "
          f"all {time.perf_counter() - t0:.1f} s; torch {before['version']} at {Path(before['file']).parent}")
