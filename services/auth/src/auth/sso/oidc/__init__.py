"""The OpenID Connect relying party: discovery, JWKS, token exchange, ID token validation."""
