"""`make rollout-test`: replicas supervised like ECS tasks behind HAProxy configured as the ALB, under
load."""
