"""`python -m devstack` (what `make dev` runs)."""

from devstack.cli import main

raise SystemExit(main())
