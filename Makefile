# Latent Lab: two commands on a fresh machine.
#   make demo   the kit's main job (sets up .venv and the data first)
#   make test   the test suite (same setup)
SHELL := /bin/bash
PYTHON ?= python3
PY := .venv/bin/python
DEBIAN_FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: demo test data venv checkpoints model-card release clean

demo: data
	$(PY) -m reference.model_card
	$(PY) -m autograder.course demo_output/course

test: data
	$(PY) -m pytest -q tests

venv: .venv/.installed
.venv/.installed: requirements.txt
	$(PYTHON) -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -r requirements.txt
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

# Retrain both shipped checkpoints (about 10 min on 2 CPU cores, 1 min on a GPU), then pin the printed sha256s.
checkpoints: data
	$(PY) -m reference.train vae
	$(PY) -m reference.train classifier

model-card: data
	$(PY) -m reference.model_card --update-readme

# After editing source/make_notebook.py or course_config.py: rebuild the source notebook, the nbgrader release
# and the sample submissions (tests fail until these are committed in sync).
release: venv
	$(PY) source/make_notebook.py
	PATH=$(CURDIR)/.venv/bin:$$PATH .venv/bin/nbgrader generate_assignment latent_space --force
	$(PY) tests/submissions/make_corpus.py

clean:
	rm -rf demo_output .pytest_cache
