"""What a connector proves about the person signing in: one identity type for every protocol.

A connector (OIDC, SAML) turns an IdP's signed answer into an ``Identity``; everything after
that (the domain and linking rules, provisioning, the session, the login trace) is the login
pipeline's and never looks at the protocol again.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LogoutHandle:
    """How the IdP names the session it signed in, kept with ours so that either side can end
    both: the OIDC ``sid`` and ``sub`` of a back-channel logout token and the ID token sent
    back as ``id_token_hint`` (OpenID Connect RP-Initiated Logout 1.0 §2), or the SAML NameID
    with its format and qualifiers and the SessionIndex a LogoutRequest carries (saml-core
    3.7.1). Empty strings where the protocol or the IdP gives none."""

    oidc_sid: str = ""
    oidc_sub: str = field(default="", repr=False)
    id_token: str = field(default="", repr=False)
    saml_name_id: str = field(default="", repr=False)
    saml_name_id_format: str = ""
    saml_name_qualifier: str = ""
    saml_sp_name_qualifier: str = ""
    saml_session_index: str = ""


@dataclass(frozen=True)
class Identity:
    # The identity link key, never the email (nOAuth): "iss|sub", "tid|oid" for Entra, or
    # "<IdP entity id>|<NameID>" for SAML.
    subject: str
    email: str = field(repr=False)
    # The IdP vouches for the email by its own rule (oidc.presets: Okta and Google send
    # email_verified; Entra and SAML IdPs send none). Directory still links or creates a user
    # by this email only inside a verified domain the connection serves.
    email_verified: bool
    given_name: str = field(repr=False)
    family_name: str = field(repr=False)
    display_name: str = field(repr=False)
    timezone: str
    # Whether the IdP sent space_name at all; the lists pair by position (the six rules).
    spaces_present: bool
    space_names: tuple[str, ...]
    space_roles: tuple[str, ...]
    # False: leave group memberships unchanged (Entra's overage, or group sync off).
    sync_groups: bool
    groups: tuple[str, ...]
    groups_overage: bool
    # What logout needs later; stored with the session by the pipeline.
    logout: LogoutHandle = field(default_factory=LogoutHandle)
