# AWS CDK: make synth|diff|deploy ENV=sandbox|dev|test|prod|pipelines  (deploy also takes DRY_RUN=1;
# RELEASE=release.json deploys a pipeline build's image by digest; PIPELINE=1 runs on a pipeline's role)
ENV ?= sandbox
DRY_RUN ?=
RELEASE ?=
PIPELINE ?=
INFRA_CDK := infra/node_modules/.bin/cdk

.PHONY: synth diff deploy bootstrap infra-cli

# The CDK CLI pinned in infra/package-lock.json, installed locally (never globally).
$(INFRA_CDK): infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund
	@touch $@

infra-cli: $(INFRA_CDK)

synth: install  ## synthesize ENV's stacks offline into infra/cdk.out/ENV (ENV=pipelines too)
	$(UV) run --frozen python -m infra.deploy synth --env $(ENV)

diff: install $(INFRA_CDK)  ## cdk diff of ENV's stacks against what is deployed
	$(UV) run --frozen python -m infra.deploy diff --env $(ENV)

deploy: install $(if $(DRY_RUN),,$(INFRA_CDK))  ## deploy ENV (IdP -> Tasks -> Frontend); DRY_RUN=1 prints the plan
	$(UV) run --frozen python -m infra.deploy deploy --env $(ENV) $(if $(DRY_RUN),--dry-run) \
	  $(if $(RELEASE),--release $(RELEASE)) $(if $(PIPELINE),--pipeline)

bootstrap: install $(if $(DRY_RUN),,$(INFRA_CDK))  ## once per account: cdk bootstrap ENV's Security and workload accounts
	$(UV) run --frozen python -m infra.deploy bootstrap --env $(ENV) $(if $(DRY_RUN),--dry-run)
