"""Benchmarks of single components (the IdP, the scheduler, the API, the local stack's start-up): the
figures in docs/performance.md."""
