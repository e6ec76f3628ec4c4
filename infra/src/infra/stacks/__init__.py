"""The three CDK stacks: IdP (Security account), Tasks and Frontend (workload account)."""
