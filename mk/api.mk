# Tasks API (issue 2): serve, migrate, test and benchmark the API on its own.
.PHONY: api-serve api-migrate api-test api-bench api-cpu wrk-install

api-serve: install  ## run the Tasks API alone on :8080 (SQLite under .dev/ unless DATABASE_URL / DB_SECRET)
	$(UV) run tasks-api serve

api-migrate: install  ## apply the Tasks API migrations to DATABASE_URL / DB_SECRET
	$(UV) run tasks-api migrate

api-test: install  ## the Tasks API tests (throwaway PostgreSQL)
	$(UV) run pytest tests/tasks_api -q $(PYTEST_ARGS)

api-bench: install wrk-install  ## hello vs list vs create under wrk, server and wrk on their own CPUs; docs/performance.md
	$(UV) run python -m benchmarks.api $(ARGS)

wrk-install:  ## Debian's wrk (the benchmark's load generator), when it is missing
	@command -v wrk >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends wrk; \
	  else sudo apt-get install -y --no-install-recommends wrk; fi; }

api-cpu: install  ## the API's CPU time per request in process (hello, list, create); quick for comparing changes
	$(UV) run python -m benchmarks.api_cpu_per_request $(ARGS)
