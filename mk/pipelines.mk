# Delivery pipelines (issue 16): the steps the pipelines run that are not in infra.mk or stack.mk. Each works
# on a laptop too; see docs/deploy.md, "From a pull request to prod".
REGISTRY ?=
RELEASE_BUCKET ?=
COMMIT ?=

.PHONY: release promote rollback-prod smoke

define require_var
	@test -n "$($(1))" || { echo "make $@: set $(1)=... ($(2))" >&2; exit 1; }
endef

release: install  ## push the images of `make image` (IMAGE_TAG=commit) to REGISTRY; write release.json
	$(call require_var,REGISTRY,<account>.dkr.ecr.<region>.amazonaws.com of the SDLC Deployments account)
	$(UV) run --frozen python -m infra.pipelines.release publish --tag $(IMAGE_TAG) --registry $(REGISTRY)

promote: install  ## hand this release (sources + release.json) to the prod pipeline's RELEASE_BUCKET
	$(call require_var,RELEASE_BUCKET,the ReleaseBucket output of CityTasks-Pipeline-prod)
	$(UV) run --frozen python -m infra.pipelines.release promote --bucket $(RELEASE_BUCKET)

rollback-prod: install  ## make the release of COMMIT current again; prod redeploys it after approval
	$(call require_var,COMMIT,a commit whose release passed test)
	$(UV) run --frozen python -m infra.pipelines.release rollback --commit $(COMMIT)

smoke: install  ## smoke-test a deployed ENV through CloudFront (health, machine token, list)
	$(UV) run --frozen python -m infra.pipelines.smoke --env $(ENV) $(if $(PIPELINE),--pipeline)
