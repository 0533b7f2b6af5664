"""Shared rate limits: token buckets in PostgreSQL that every gateway replica leases from."""
