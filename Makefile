# Latent Lab: two commands on a fresh machine.
#   make demo   the kit's main job (sets up .venv and the data first)
#   make test   the test suite (same setup)
SHELL := /bin/bash
# The system Python when there is one: a venv made from a Python in a private home folder (pyenv) cannot be used
# by other Unix users (the sandbox's unprivileged test, instructors on a hub).
PYTHON ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || echo python3)
PY := .venv/bin/python
DEBIAN_FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: demo test test-fast lint data sandbox browser venv checkpoints reference dataset-codes model-card release clean hub-demo

demo: data sandbox
	$(PY) -m reference.model_card
	$(PY) -m tools.course demo_output/course

test: data sandbox browser hub/node_modules/.installed lint
	$(PY) -m pytest -q tests

# The edit-test loop: everything but the `slow` tests (the 45-notebook corpus, the hostile battery, workers and Dask,
# the nbgrader autograde path, the hub in a browser, permissions as Unix users, regrade).
test-fast: data sandbox lint
	$(PY) -m pytest -q tests -m "not slow"

# ruff, configured in pyproject.toml; part of `make test`, so CI runs it.
lint: venv
	.venv/bin/ruff check .

# A .venv made from another Python (an older checkout used pyenv's) is rebuilt.
venv:
	@if [ -e .venv ] && ! grep -qx "home = $$(dirname $$(readlink -f $$(command -v $(PYTHON))))" .venv/pyvenv.cfg; then \
	  echo "Rebuilding .venv from $(PYTHON)"; rm -rf .venv; fi
	@$(MAKE) --no-print-directory .venv/.installed
.venv/.installed: requirements.txt pyproject.toml
	@if ! $(PYTHON) -c "import ensurepip" 2>/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; fi
	$(PYTHON) -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -r requirements.txt
	.venv/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

# Debian's package is the offline source; without apt (or root) reference.data falls back to torchvision's download.
data: venv
	@if [ -z "$${FASHION_MNIST_DIR:-}" ] && [ ! -d $(DEBIAN_FASHION_MNIST) ] && command -v apt-get >/dev/null \
	    && [ "$$(id -u)" = 0 ]; then \
	  echo "Installing Debian's dataset-fashion-mnist (offline copy of Fashion-MNIST)..."; \
	  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
	    || echo "apt-get could not install it; trying torchvision's download instead"; \
	fi
	$(PY) -m reference.data

# A real JupyterHub on 127.0.0.1 with an instructor and two students (tools/hub_demo.py); as root. Ctrl-C stops it.
# It starts over each time (a fresh course, the students' folders emptied): `make hub-demo HUB_DEMO_ARGS=--keep` keeps them.
hub-demo: data sandbox hub/node_modules/.installed
	$(PY) -m tools.hub_demo $(HUB_DEMO_ARGS)

# JupyterHub's proxy, pinned in hub/package-lock.json; Node.js and npm from Debian when missing (and root).
hub/node_modules/.installed: hub/package-lock.json
	@if ! command -v npm >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "Installing Node.js and npm (for JupyterHub's proxy)..."; \
	  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; fi
	cd hub && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser test of the hub (tests/test_hub.py) drives Debian's Chromium through its ChromeDriver.
browser:
	@if ! { command -v chromedriver >/dev/null && [ -x /usr/bin/chromium ]; } && command -v apt-get >/dev/null \
	    && [ "$$(id -u)" = 0 ]; then \
	  echo "Installing chromium and chromium-driver (the hub's browser test)..."; \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "apt-get could not install chromium"; \
	fi

# bubblewrap runs every grading kernel in a sandbox (autograder/sandbox.py); installed here when root and missing,
# otherwise grading stops with a message saying how to install it.
sandbox:
	@if ! command -v bwrap >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "Installing bubblewrap (the grading sandbox)..."; \
	  (apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null) || echo "apt-get could not install bubblewrap"; \
	fi

# Retrain both shipped checkpoints (about 10 min on 2 CPU cores, 1 min on a GPU) and re-derive the reference answers
# from the new VAE, then pin the printed sha256s in reference/lesson.py.
checkpoints: data
	$(PY) -m reference.train vae
	$(PY) -m reference.train classifier
	@echo "Pin VAE_SHA256 first: the reference answers are derived from the pinned VAE."

# Re-derive what grading compares against (the lesson's answers, the Ex5 judge) from the shipped VAE and the data,
# about 40 s, then pin the printed REFERENCE_SHA256. Grading never derives it: every machine grades with this file.
# Settings first: derive.py pins the CPU kernels course_config names, and a mistyped name would pin none.
reference: data
	$(PY) -c "from autograder import settings; settings.require()"
	$(PY) -m reference.derive

# The VAE's mu code of every Fashion-MNIST item, for Ex5's reconstructions; pin the printed sha256 after retraining.
dataset-codes: data
	$(PY) -m reference.dataset_codes

model-card: data
	$(PY) -m reference.model_card --update-readme

# After editing lesson/latent_space.md (the lesson) or course_config.py: rebuild the source notebook, the README's
# tables of settings and the nbgrader release
# (tests fail until these are committed in sync). The sample submissions are written at test time.
release: venv
	$(PY) -m tools.release

clean:
	rm -rf demo_output .pytest_cache
