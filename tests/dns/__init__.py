"""A real authoritative DNS server for the tests (dnslib), on 127.0.0.1, whose records a test
changes while it runs: domain verification is tested against DNS answers on the wire, never a
mocked resolver."""
