"""Verified domains: an account proves control of a DNS domain with a TXT record.

names.py says which names may be claimed, challenge.py what to publish, dns.py looks it up,
servicer.py serves the RPCs, recheck.py re-checks verified domains in the background; the SQL is
in store/domains.py.
"""
