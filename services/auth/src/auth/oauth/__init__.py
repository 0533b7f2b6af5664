"""OAuth 2.0 client credentials (RFC 6749 §4.4): clients, their secrets, signed access tokens."""
