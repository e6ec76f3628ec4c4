# Load tests with Locust (loadtests/, docs/load-testing.md). Reports: loadtests/reports/.
#   make load ENV=local       the real local stack, a bounded run, thresholds enforced (exit 1 when broken)
#   make load ENV=sandbox     the step shape against the deployed ALB + loadtests/reports/autoscaling-*.png
# LOAD_ARGS passes options through, e.g. LOAD_ARGS="--users 40 --duration 120 --p95-ms 300 --workers 2".
LOAD_TARGET = $(or $(ENV),local)
LOAD_ARGS ?=

# make rollout-test             replicas behind HAProxy (as the ALB) through a roll, scale-in/out and a SIGKILL
#                               -> loadtests/reports/rollout.json; ROLLOUT_ARGS="--bounded" is the CI form
ROLLOUT_ARGS ?=

.PHONY: load load-test rollout-test

load: install  ## load test: ENV=local (bounded, thresholds) or ENV=sandbox (step shape + autoscaling PNG)
ifeq ($(LOAD_TARGET),local)
	$(UV) run python -m loadtests.locust.run_local $(LOAD_ARGS)
else
	$(UV) run python -m loadtests.locust.run_sandbox --env $(LOAD_TARGET) $(LOAD_ARGS)
endif

load-test: install  ## the load-test unit tests and the CI smoke run
	$(UV) run pytest tests/loadtests -q $(PYTEST_ARGS)

rollout-test: install  ## rolling deploy + expand migration, scale in/out, SIGKILL under load (exit 1 on a failure)
	$(UV) run python -m loadtests.rollout.run $(ROLLOUT_ARGS)
