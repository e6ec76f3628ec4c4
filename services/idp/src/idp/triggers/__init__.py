"""Cognito Lambda triggers.

Self-contained handlers (stdlib and boto3 only): the CDK IdP stack deploys them, the local IdP calls them.
"""
