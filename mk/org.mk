# Organization and Identity Center as code (city-org) and the SSO login helper (city-login).
ORG_SPEC ?= infra/org/organization.yaml
ORG_ARGS ?=

.PHONY: org-validate org-plan org-apply org-drift org-test

org-validate: install  ## check organization.yaml and its policies (no AWS calls)
	$(UV) run city-org validate --spec $(ORG_SPEC)

org-plan: install  ## show what city-org apply would change (PROFILE=... optional)
	$(UV) run city-org plan --spec $(ORG_SPEC) $(if $(PROFILE),--profile $(PROFILE)) $(ORG_ARGS)

org-apply: install  ## make the organization match the spec (asks first; ORG_ARGS=--allow-delete[=N] to delete)
	$(UV) run city-org apply --spec $(ORG_SPEC) $(if $(PROFILE),--profile $(PROFILE)) $(ORG_ARGS)

org-drift: install  ## list what AWS holds that the spec does not
	$(UV) run city-org drift --spec $(ORG_SPEC) --detailed-exitcode $(if $(PROFILE),--profile $(PROFILE))

org-test: install  ## the organization tool's tests (moto server + botocore Stubber)
	$(UV) run pytest tests/org -q $(PYTEST_ARGS)
