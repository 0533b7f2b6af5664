"""Webhook delivery (Standard Webhooks): the deliverer process and what it needs.

The deliverer is a worker of the directory: its own process (``idmesh-deliverer``), its own
Deployment and replicas, but the directory's package, schema and tables, because what it
delivers is the directory's change feed and nothing else.
"""
