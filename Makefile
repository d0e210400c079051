# LLM Lab: two commands do everything on a fresh machine.
#   make lab    set up (venv, packages, offline data) and open the course in JupyterLab
#   make test   set up and run every test (unit tests + every notebook in the smoke profile + nbval)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The tested torch, installed first so nothing pulls a multi-GB CUDA build by accident.
# Elsewhere, a CPU-only wheel: make test TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu"
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
TMPD := $(or $(TMPDIR),/tmp)/llm-lab-$(shell id -u)
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
JUPYTER_TMP := JUPYTER_RUNTIME_DIR=$(TMPD)/jupyter-runtime IPYTHONDIR=$(TMPD)/ipython MPLCONFIGDIR=$(TMPD)/mpl

.PHONY: setup lab site test unit lint notebooks doctor lock clean

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==$(TORCH_VERSION)" $(TORCH_INDEX)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $@

setup: $(VENV)/.installed
	$(PY) -m labutils data prepare

# As root too (--allow-root), printing `Open http://127.0.0.1:PORT/lab?token=...`; LAB_PORT=8899, LAB_ARGS="--ip=0.0.0.0".
# LAB_SETUP= skips the set-up step (the test of this target uses it).
LAB_SETUP ?= setup
lab: $(LAB_SETUP)
	$(JUPYTER_TMP) $(PY) -m labutils lab notebooks/00_welcome_and_setup.ipynb

# Static HTML of the executed course in build/site (offline; index.html). Reuses `python -m labutils run`'s
# executed notebooks and runs those missing or stale. Quick look: make site SITE_PROFILE=smoke
SITE_PROFILE ?= cpu
SITE_DIR ?= build/site
site: setup
	$(OFFLINE) $(JUPYTER_TMP) LABUTILS_HEADLESS=1 $(PY) -m labutils site --profile $(SITE_PROFILE) --out $(SITE_DIR)

test: setup
	$(VENV)/bin/ruff check labutils tests
	$(OFFLINE) $(JUPYTER_TMP) LABUTILS_PROFILE=smoke LABUTILS_HEADLESS=1 $(PY) -m pytest tests notebooks --nbval-lax -p no:cacheprovider

unit: setup
	$(OFFLINE) $(PY) -m pytest tests --ignore=tests/test_notebooks.py

lint: setup
	$(VENV)/bin/ruff check labutils tests

doctor: setup
	$(PY) -m labutils doctor

# Record a cpu run of every notebook (data/recorded/cpu-results.jsonl: figures + run_seconds) and regenerate
# the README's course map from it. Take it on an idle machine: the times go into the README.
.PHONY: record-cpu
record-cpu: setup
	@mkdir -p data/recorded && rm -f $(TMPD)/cpu-results.jsonl
	-$(OFFLINE) $(JUPYTER_TMP) LABUTILS_HEADLESS=1 LABUTILS_RESULTS=$(TMPD)/cpu-results.jsonl $(PY) -m labutils run --profile cpu
	mv $(TMPD)/cpu-results.jsonl data/recorded/cpu-results.jsonl
	$(PY) -m labutils report --readme

lock:
	$(PY) -m pip freeze --exclude-editable | sed 's/+cpu//' | sed 's/$$/ ; python_version >= "3.11"/' > constraints.txt

clean:
	rm -rf $(VENV)
