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

.PHONY: setup lab test unit lint notebooks doctor lock clean

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==$(TORCH_VERSION)" $(TORCH_INDEX)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $@

setup: $(VENV)/.installed
	$(PY) -m labutils data prepare

lab: setup
	$(JUPYTER_TMP) $(VENV)/bin/jupyter lab notebooks/00_welcome_and_setup.ipynb

test: setup
	$(VENV)/bin/ruff check labutils tests
	$(OFFLINE) $(JUPYTER_TMP) LABUTILS_PROFILE=smoke LABUTILS_HEADLESS=1 $(PY) -m pytest tests notebooks --nbval-lax -p no:cacheprovider

unit: setup
	$(OFFLINE) $(PY) -m pytest tests --ignore=tests/test_notebooks.py

lint: setup
	$(VENV)/bin/ruff check labutils tests

doctor: setup
	$(PY) -m labutils doctor

lock:
	$(PY) -m pip freeze --exclude-editable | sed 's/+cpu//' | sed 's/$$/ ; python_version >= "3.11"/' > constraints.txt

clean:
	rm -rf $(VENV)
