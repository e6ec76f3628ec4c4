# The local Cognito-compatible IdP (issue 3). See docs/idp.md.
.PHONY: idp idp-test idp-bench idp-totp

idp: install  ## run the local IdP alone on :9229 (IDP_PORT, PUBLIC_URL)
	$(UV) run idp serve

idp-test: install  ## the IdP's tests (boto3 flow, hosted UI, moto conformance, Postgres, Tasks API verifier)
	$(UV) run pytest tests/idp -q $(PYTEST_ARGS)

idp-bench: install  ## tokens per second through InitiateAuth on one IdP process
	$(UV) run python -m benchmarks.idp

idp-totp: install  ## print the demo user's current TOTP code (local development only)
	$(UV) run idp totp demo@example.com
