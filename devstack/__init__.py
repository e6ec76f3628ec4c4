"""The local stack without Docker: `make dev` runs the IdP, the Tasks API and the web front as processes."""
