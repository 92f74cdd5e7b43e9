# Static checks of issue 12 (harlequin's `make check`): lint, format, types, import contracts.
# Every check runs even when an earlier one fails; the exit status says whether any failed.
# Tools come from the test extras: pip install -e '.[test]'.

PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)

.PHONY: check lint format-check typecheck imports test

check:
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory format-check || status=1; \
	$(MAKE) --no-print-directory typecheck || status=1; \
	$(MAKE) --no-print-directory imports || status=1; \
	exit $$status

lint:
	$(PYTHON) -m ruff check .

format-check:
	$(PYTHON) -m ruff format --check .

typecheck:
	$(PYTHON) -m mypy

# lint-imports is installed beside the interpreter; its module has no __main__.
imports:
	$(PYTHON) -c "import sys; from importlinter.cli import lint_imports_command; sys.argv[0] = 'lint-imports'; sys.exit(lint_imports_command())" --no-cache

test:
	$(PYTHON) -m pytest -q
