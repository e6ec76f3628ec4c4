# Scheduler (issue 4): its tests and its benchmark.
.PHONY: test-scheduler bench-scheduler

test-scheduler: install  ## the schedule math and the executor (real Postgres, real worker processes)
	$(UV) run pytest tests/tasks_api/domain tests/tasks_api/executions -q

bench-scheduler: install  ## 10,000 tasks due in one minute on three worker processes; idle CPU
	$(UV) run python -m benchmarks.scheduler
