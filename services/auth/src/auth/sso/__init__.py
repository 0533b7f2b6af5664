"""Single sign-on: connections to corporate IdPs, the OIDC login flow, sessions, login traces."""
