"""Load tests: `locust/` (the Locust users, shapes and runs), `rollout/` (replicas behind HAProxy through a
deploy), `capacity/` (one replica under CPU quotas, the autoscaling simulation). Benchmarks: `benchmarks/`."""
