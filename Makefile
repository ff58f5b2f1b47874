# dbvend: `make run` serves the API, `make test` runs every check. Both set up what
# they need first (venv, PostgreSQL, Docker engine, images) and skip what is done.
.PHONY: setup run test lint bench bench-backup bench-fleet clean

setup:
	bash scripts/setup.sh

run:
	bash scripts/run.sh

# `make test -- tests/api -k login` hands what follows `--` to pytest (and skips the linters).
ifeq (test,$(firstword $(MAKECMDGOALS)))
TEST_ARGS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
$(eval .PHONY: $(TEST_ARGS))
$(eval $(TEST_ARGS):;@:)
endif

test:
	bash scripts/test.sh $(TEST_ARGS)

bench: setup
	.venv/bin/python bench/provision.py

# 1 GiB per engine, backup and restore through the service vs plain mariadb-dump / redis-cli --rdb.
bench-backup: setup
	.venv/bin/python bench/backup.py

# Builds three netns Docker hosts (scripts/fleet-testbed.sh), needs root; tears them down after.
bench-fleet: setup
	.venv/bin/python bench/fleet.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache
