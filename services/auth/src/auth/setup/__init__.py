"""Setup links: a one-person, expiring, revocable link to the self-serve setup wizard."""
