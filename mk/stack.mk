# Containers and the local stack (issue 5). `make dev` (root Makefile) runs the same topology without Docker.
COMPOSE ?= docker compose
IMAGE_PLATFORM ?= linux/arm64
IMAGE_TAG ?= local
UP_TIMEOUT ?= 180

.PHONY: up down image stack-check

define require_docker
	@command -v docker >/dev/null 2>&1 || { echo "make $@: docker is not installed; use 'make dev' for the stack without containers" >&2; exit 1; }
endef

up:  ## build and start the compose stack (web :8100, API :8080, IdP :9229)
	$(require_docker)
	$(COMPOSE) up --build --detach
	@# Not `up --wait`: some Compose versions exit 1 when the one-shot `migrate` service completes.
	@echo "waiting up to $(UP_TIMEOUT) s for http://localhost:8100 ..."; \
	for i in $$(seq 1 $(UP_TIMEOUT)); do \
	  curl -fsS -o /dev/null http://localhost:8100/healthz 2>/dev/null && curl -fsS -o /dev/null http://localhost:8080/health/ready 2>/dev/null && break; \
	  if [ $$i -eq $(UP_TIMEOUT) ]; then $(COMPOSE) ps; echo "the stack is not ready: see '$(COMPOSE) logs'" >&2; exit 1; fi; \
	  sleep 1; \
	done
	@echo "City Tasks is up: http://localhost:8100  (API http://localhost:8080/docs, IdP http://localhost:9229)"
	@echo "Demo login: $$($(UV) run --frozen python -m devstack.seed 2>/dev/null || echo 'see services/idp/seed.yaml')"
	@echo "Current TOTP code: $(COMPOSE) exec idp idp totp demo@example.com"

down:  ## stop the compose stack (add V=1 to drop its volumes too)
	$(require_docker)
	$(COMPOSE) down --remove-orphans $(if $(V),--volumes,)

image:  ## build the linux/arm64 images (api, idp, web) from Dockerfile.arm64
	$(require_docker)
	set -e; for target in api idp web; do \
	  docker buildx build --platform $(IMAGE_PLATFORM) -f Dockerfile.arm64 --target $$target \
	    -t city-tasks-$$target:$(IMAGE_TAG) --load . || exit 1; \
	done

stack-check: install  ## the container and local-stack checks (compose schema, hadolint, arm64 wheels, make dev)
	$(UV) run pytest tests/stack -q
