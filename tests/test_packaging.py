"""The install files agree with each other: ranges admit the tested versions, torch is pinned everywhere."""
import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _constraints() -> dict:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split(";")[0].strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_pyproject_ranges_admit_the_tested_versions():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = _constraints()
    for dep in deps:
        req = Requirement(dep)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} has no tested version in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{dep} excludes tested {pins[name]}"


def test_torch_is_pinned_where_it_is_installed():
    assert _constraints()["torch"] == "2.13.0"
    assert re.search(r'TORCH_VERSION \?= 2\.13\.0', (ROOT / "Makefile").read_text())
    assert "torch==2.13.0" in (ROOT / "binder" / "requirements.txt").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and re.search(r"^make test$", ci, re.M)


def test_conda_and_binder_install_the_package():
    assert "-e .[dev]" in (ROOT / "environment.yml").read_text()
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "data prepare" in post
