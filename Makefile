# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make book   build the HTML book into _build/html, executing every chapter (strict)
#   make test   run the unit tests and every notebook with pytest --nbval
# Both create (or reuse) the virtual environment .venv first.
#   make check-html   after `make book`: every built page in Chromium, offline (tests_html/)

PYTHON ?= python3
VENV ?= .venv
# torch is installed first, on its own, so that the later install keeps it instead of choosing one.
# Here pip finds the CPU wheel of torch 2.13.0 locally; elsewhere, pip's default torch on Linux is
# a CUDA build: add PyTorch's CPU wheel index, e.g. TORCH_SPEC="torch --index-url <cpu index>".
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.emt-installed
# MathJax ships with the book: npm's mathjax 3, fetched once at set-up (hash-checked)
MATHJAX := _vendor/_static/mathjax/tex-svg.js
# `unshare -n` when this machine can give a process no network (make check-html)
NO_NET := $(shell unshare -n true 2>/dev/null && echo unshare -n)

.PHONY: book test test-fast test-portable test-slurm check-html lint format notebooks venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $(STAMP)

$(MATHJAX): scripts/fetch_mathjax.py
	$(PYTHON) scripts/fetch_mathjax.py

book: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build --all -W -n --keep-going .

# The built book in Debian's Chromium (Playwright, no browser download), opened from disk with
# the network blocked: math rendered, images, links and anchors, console, code-cell widths,
# search. Screenshots of the chapters go to _build/screenshots/.
# Where the kernel allows it (root, or user namespaces), the test runs in a network namespace of
# its own, with no network at all; elsewhere the browser's own request blocking remains.
check-html: $(STAMP)
	scripts/ensure-chromium.sh
	$(NO_NET) env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pytest -q -rA tests_html

test: $(STAMP)
	$(BIN)/python -m pytest --nbval

# The unit tests without the slow ones (training, chapters, subprocesses): a minute or two.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" tests

# The notebooks' stored outputs must not depend on the machine: rerun them under three
# OpenBLAS kernels (Prescott, Haswell, SkylakeX) and 1 or 2 threads; NB=... for a subset.
test-portable: $(STAMP)
	$(BIN)/python scripts/test_portable.py $(NB)

# The Slurm backend of `emt sweep` on a real single-node Slurm started on this machine
# (as root, Debian/Ubuntu: installs slurm-wlm and munge if missing); see scripts/slurm-local.sh.
test-slurm: $(STAMP)
	scripts/slurm-local.sh
	$(BIN)/python -m pytest -v tests/test_sweep_slurm.py

# ruff: lint and format check of emt/, tests/, scripts/ and the chapters' code cells.
lint: $(STAMP)
	$(BIN)/ruff check emt tests tests_html scripts _ext book/*.ipynb
	$(BIN)/ruff format --check emt tests tests_html scripts _ext
	$(BIN)/python scripts/format_chapters.py --check

# Apply ruff's formatting (then `make notebooks` to regenerate the chapters' .ipynb).
format: $(STAMP)
	$(BIN)/ruff format emt tests tests_html scripts _ext
	$(BIN)/python scripts/format_chapters.py

# Regenerate every book/*.ipynb from its .md source and execute it (outputs stored).
notebooks: $(STAMP)
	$(BIN)/python scripts/sync_notebooks.py $(NB)

clean:
	rm -rf _build
