"""Deploying automation files: one stack of rules and targets of its own, beside the connector's stack.

`spec` is what a deploy works from (compiled automations and webhook declarations), `cfn` the CloudFormation
template built from it, `aws` plan/deploy/list/remove on AWS (change sets, CloudWatch), `local` the same on the
local stack (moto server) and `delivery` what the local runner does with a matched event for each target kind.
"""
