# AWS CDK: make synth|preflight|diff|deploy|destroy ENV=sandbox|dev|test|prod  (deploy, diff, destroy take DRY_RUN=1)
ENV ?= sandbox
DRY_RUN ?=
INFRA_CDK := infra/node_modules/.bin/cdk

.PHONY: synth preflight preflight-table diff deploy destroy bootstrap infra-cli

# The CDK CLI pinned in infra/package-lock.json, installed locally (never globally).
$(INFRA_CDK): infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund
	@touch $@

infra-cli: $(INFRA_CDK)

synth: install  ## synthesize ENV's three stacks offline into infra/cdk.out/ENV
	$(UV) run --frozen python -m infra.deploy synth --env $(ENV)

preflight: install  ## offline: would the organization's SCPs let the CDK execution role deploy ENV's stacks?
	$(UV) run --frozen python -m infra.preflight.check --env $(ENV)

preflight-table: install  ## regenerate the resource-type -> IAM actions table from the CloudFormation schemas
	$(UV) run --frozen python -m infra.preflight.table

diff: install $(if $(DRY_RUN),,$(INFRA_CDK))  ## cdk diff of ENV's stacks against what is deployed; DRY_RUN=1 prints the commands
	$(UV) run --frozen python -m infra.deploy diff --env $(ENV) $(if $(DRY_RUN),--dry-run)

deploy: install $(if $(DRY_RUN),,$(INFRA_CDK))  ## deploy ENV (checks, preflight, IdP -> Tasks -> Frontend); DRY_RUN=1 prints the plan
	$(UV) run --frozen python -m infra.deploy deploy --env $(ENV) $(if $(DRY_RUN),--dry-run)

destroy: install $(if $(DRY_RUN),,$(INFRA_CDK))  ## tear ENV down in reverse order (Frontend, Tasks, IdP); DRY_RUN=1 prints it; prod needs CONFIRM=prod
	$(UV) run --frozen python -m infra.deploy destroy --env $(ENV) $(if $(DRY_RUN),--dry-run) $(if $(CONFIRM),--confirm $(CONFIRM))

bootstrap: install $(if $(DRY_RUN),,$(INFRA_CDK))  ## once per account: cdk bootstrap ENV's Security and workload accounts
	$(UV) run --frozen python -m infra.deploy bootstrap --env $(ENV) $(if $(DRY_RUN),--dry-run)
