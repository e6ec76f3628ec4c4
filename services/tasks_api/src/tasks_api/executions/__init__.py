"""The scheduler: claims due tasks across replicas, records executions, performs their effects."""
