# Set-up and the main jobs, each in one command on a fresh machine (needs python3 and make):
#   make demo    a virtual environment installed from requirements.lock, then the default run
#   make test    the same set-up, then ruff, import-linter, the docs site and the test suite (what CI runs)
#   make lock    upgrade requirements.lock to today's releases; run `make test` after it
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Without an NVIDIA driver, PyTorch comes from its CPU index (a plain PyPI torch is a CUDA build of several GB);
# a pip that finds the CPU build locally (a find-links folder) takes that one.
TORCH_INDEX ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,https://download.pytorch.org/whl/cpu)
PIP := $(BIN)/python -m pip --quiet

.PHONY: install demo lint test lock clean

# torch goes alone first, so only its own lookup asks the PyTorch index; its dependencies come with the rest.
$(BIN)/textcluster: requirements.lock pyproject.toml plugins/textcluster-agglomerative/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install --no-deps -c requirements.lock torch $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(PIP) install -c requirements.lock -e ".[dev]" -e plugins/textcluster-agglomerative
	# pynndescent (under umap-learn) and fast_hdbscan compile their numba code into their package folders when
	# first imported, about 60 s on 2 cores: once here, not in the first run or test that imports them
	$(BIN)/python -c "import pynndescent, fast_hdbscan"
	touch $@

install: $(BIN)/textcluster

demo: install
	$(BIN)/textcluster

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet  # a broken link or a bad docstring fails (site/)

test: lint
	$(BIN)/python -m pytest

lock: install
	$(PIP) install uv
	$(BIN)/uv pip compile pyproject.toml --all-extras --universal --python-version 3.10 --upgrade \
		--constraint requirements/torch.txt --output-file requirements.lock

clean:
	rm -rf $(VENV)
