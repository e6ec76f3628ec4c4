# Containers and the local stack (issues 5, 14). `make dev` (root Makefile) runs the same topology without them.
# ENGINE is docker (buildx + `docker compose`) when a Docker daemon answers, else podman (+ podman-compose,
# pinned in uv.lock); override with ENGINE=docker|podman. Evaluated only by the targets below.
ENGINE ?= $(shell if docker info >/dev/null 2>&1; then echo docker; \
  elif command -v podman >/dev/null 2>&1; then echo podman; \
  elif command -v docker >/dev/null 2>&1; then echo docker; fi)
COMPOSE ?= $(if $(filter podman,$(ENGINE)),$(UV) run --frozen podman-compose,docker compose)
IMAGE_PLATFORM ?= linux/arm64
IMAGE_TAG ?= local
IMAGE_TARGETS ?= api idp web
# podman: --format docker, because the OCI image format has no HEALTHCHECK (podman would drop it).
# podman: missing (the default) pulls a base image only when it is not stored yet; never = use only what is.
IMAGE_PULL ?= missing
# podman: RUN steps that download (uv sync, npm ci) trust the host's CA bundle, e.g. a company proxy's CA.
# Mounted for the build only, never stored in a layer.
HOST_CA_BUNDLE ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
# podman-compose ties each container to those it depends on (`podman run --requires`), and podman 4.3 then
# cannot start one whose chain is two deep (tasks-api -> migrate -> postgres: "not found in input list").
# The services wait for what they need themselves (the database, bounded), so start them without it.
COMPOSE_UP_FLAGS ?= $(if $(filter podman,$(ENGINE)),--no-deps)
STACK_PORTS ?= 8100 8080 9229
UP_TIMEOUT ?= 300

.PHONY: up down images image stack-ports stack-check test-containers

define require_engine
	@case "$(ENGINE)" in \
	  docker) command -v docker >/dev/null 2>&1 || { echo "make $@: docker is not installed; use 'make dev' for the stack without containers" >&2; exit 1; } ;; \
	  podman) command -v podman >/dev/null 2>&1 || { echo "make $@: podman is not installed; use 'make dev' for the stack without containers" >&2; exit 1; } ;; \
	  "") echo "make $@: neither docker nor podman is installed; use 'make dev' for the stack without containers" >&2; exit 1 ;; \
	  *) echo "make $@: ENGINE must be docker or podman, not '$(ENGINE)'" >&2; exit 1 ;; \
	esac
endef

images:  ## build the linux/arm64 images (api, idp, web) from Dockerfile.arm64 with docker buildx or podman
	$(require_engine)
	@set -e; for target in $(IMAGE_TARGETS); do \
	  started=$$(date +%s); \
	  if [ "$(ENGINE)" = docker ]; then \
	    docker buildx build --platform $(IMAGE_PLATFORM) -f Dockerfile.arm64 --target $$target \
	      -t city-tasks-$$target:$(IMAGE_TAG) --load . ; \
	  else \
	    podman build --format docker --platform $(IMAGE_PLATFORM) --pull=$(IMAGE_PULL) -f Dockerfile.arm64 --target $$target \
	      $(if $(HOST_CA_BUNDLE),-v $(HOST_CA_BUNDLE):/etc/ssl/certs/ca-certificates.crt:ro) \
	      -t city-tasks-$$target:$(IMAGE_TAG) . ; \
	  fi; \
	  echo "images: city-tasks-$$target:$(IMAGE_TAG) built in $$(( $$(date +%s) - started )) s"; \
	done

image: images  # the former name

stack-ports:  # before a long build: the ports the stack publishes must be free
	@for port in $(STACK_PORTS); do \
	  if (exec 3<>/dev/tcp/127.0.0.1/$$port) 2>/dev/null; then \
	    echo "make up: port $$port is already in use on this machine; stop what holds it (or 'make down') first" >&2; exit 1; \
	  fi; \
	done

up: stack-ports images  ## build the images, start the compose stack (web :8100, API :8080, IdP :9229) and wait for it
	$(COMPOSE) up --detach $(COMPOSE_UP_FLAGS)
	@# Not `up --wait`: some Compose versions exit 1 when the one-shot `migrate` service completes, and
	@# podman-compose has no --wait.
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
	$(require_engine)
	$(COMPOSE) down --remove-orphans $(if $(V),--volumes,)

stack-check: install  ## the container and local-stack checks without an engine (compose schema, hadolint, arm64 wheels, make dev)
	$(UV) run pytest tests/stack -q

# The containers for real (tests/containers/README.md): podman here, arm64 under qemu, the stand-in base images
# when no registry answers; then the database tests once on testcontainers (podman's Docker API).
test-containers: install  ## build the arm64 images and run the compose stack, browser flow, Locust smoke and testcontainers on podman
	tests/containers/setup-host.sh
	$(UV) run pytest tests/containers $(PYTEST_ARGS)
	$(UV) run python -m tests.containers.engine socket -- \
	  python -m pytest tests/test_postgres_fixture.py tests/tasks_api/db -q
