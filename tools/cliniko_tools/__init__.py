"""Operator and developer tooling: the CLI, the Cliniko simulator, the local stack and the template generator.

Nothing here ships in the Lambda layer; Lambda functions import only `cliniko_connector`.
"""
