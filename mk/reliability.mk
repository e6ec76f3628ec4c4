# Reliability proofs (issue 10): fuzzing, database outage, graceful shutdown, limits, security, Aurora resume.
.PHONY: reliability-test

reliability-test: install  ## real API processes under faults and bad input (about 75 s; see docs/reliability.md)
	$(UV) run pytest tests/reliability -q -s $(PYTEST_ARGS)
