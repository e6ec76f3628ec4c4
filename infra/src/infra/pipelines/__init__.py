"""The delivery pipelines: one in each Deployments account (SDLC builds once and deploys the non-prod
environments; Prod promotes what passed test). See docs/deploy.md, "From a pull request to prod"."""
