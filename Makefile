# mailroom: `make run` and `make test` bootstrap a fresh Debian machine (as root)
# and are safe to run again: they install only what is missing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Programs mailroom itself calls: ffmpeg/ffprobe (video), pdftoppm/pdftotext (PDF),
# bsdtar (RAR via rarfile), 7z, antiword/catdoc (old .doc/.wps).
RUN_PKGS  := ffmpeg poppler-utils libarchive-tools 7zip antiword catdoc
# Real servers and a browser for the tests: Dovecot (IMAP), PostgreSQL, Redis, nginx
# (X-Accel-Redirect in front of the web UI; on a machine with systemd, installing it
# also starts Debian's default site on port 80), Chromium with a CJK font for the web UI
# tests, openssl for test certificates, strace (proves ffmpeg opens no file but the attachment).
TEST_PKGS := dovecot-imapd postgresql redis-server nginx chromium fonts-noto-cjk openssl strace

.PHONY: run test lint bench system-run system-test venv clean apt

run: system-run venv
	$(VENV)/bin/mailroom run

test: system-test venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# libvips/pyvips are the media benchmark's reference only; mailroom itself never uses them.
bench: system-test venv
	@$(MAKE) --no-print-directory apt PKGS="libvips42"
	$(PY) -m pip install -q pyvips
	$(PY) bench/run_all.py

system-run:
	@$(MAKE) --no-print-directory apt PKGS="$(RUN_PKGS)"

system-test:
	@$(MAKE) --no-print-directory apt PKGS="$(RUN_PKGS) $(TEST_PKGS)"

# Installs the Debian packages in PKGS that are not installed yet.
apt:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
