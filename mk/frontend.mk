# Frontend (frontend/): npm, vitest, the typed API client generated from the API's OpenAPI document.
FRONTEND := frontend
NPM ?= npm
OPENAPI_SNAPSHOT := $(FRONTEND)/openapi/tasks-api.json
API_SCHEMA_TS := $(FRONTEND)/src/api/schema.d.ts

.PHONY: frontend-install frontend-build frontend-test frontend-dev api-client api-client-check e2e

$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && $(NPM) ci --no-audit --no-fund
	@touch $@

frontend-install: $(FRONTEND)/node_modules/.package-lock.json  ## npm ci for the frontend (only when the lock changed)

frontend-build: frontend-install  ## type-check and build the static app into frontend/dist
	cd $(FRONTEND) && $(NPM) run build

frontend-test: frontend-install  ## vitest unit tests and the type check
	cd $(FRONTEND) && $(NPM) run typecheck && $(NPM) test

frontend-dev: frontend-install  ## vite dev server on 8100 (/api proxied to 127.0.0.1:8080)
	cd $(FRONTEND) && $(NPM) run dev

# The snapshot is refreshed from create_app(...).openapi() when the API is importable; otherwise the
# hand-kept snapshot of the contract stays. The TypeScript client is always regenerated from the snapshot.
api-client: install frontend-install  ## regenerate the typed API client from the API's OpenAPI document
	@$(UV) run python $(FRONTEND)/scripts/dump_openapi.py $(OPENAPI_SNAPSHOT).new; rc=$$?; \
	  if [ $$rc -eq 0 ]; then mv $(OPENAPI_SNAPSHOT).new $(OPENAPI_SNAPSHOT); \
	  elif [ $$rc -eq 3 ]; then rm -f $(OPENAPI_SNAPSHOT).new; else exit $$rc; fi
	cd $(FRONTEND) && npx openapi-typescript openapi/tasks-api.json -o src/api/schema.d.ts

api-client-check: install frontend-install  ## fail when the committed client does not match the API
	$(UV) run pytest tests/frontend/test_api_client.py -q

e2e: install  ## browser tests against the real local stack (builds the frontend when stale)
	$(UV) run pytest tests/e2e -q
