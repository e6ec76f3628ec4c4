"""One replica's capacity under Fargate-sized CPU quotas, and the autoscaling simulation and report built
on it."""
