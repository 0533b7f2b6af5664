"""SAML 2.0 service provider: python3-saml behind our strict wrapper (sso-security.md §2)."""
