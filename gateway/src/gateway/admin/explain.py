"""A login trace's reason in plain words, and what the admin should change at the IdP.

The reasons are the stable words auth records (auth.sso.refusal and the connectors); one not
listed here is shown as recorded, with the trace's detail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Explanation:
    what: str
    fix: str


_CLOCK = "Check the clocks: the IdP's and this server's must agree within a few minutes."
REASONS: Final = {
    "state_unknown": Explanation(
        "The callback did not belong to a sign-in this browser started (expired, used twice, or "
        "started in another browser).",
        "Nothing to change at the IdP if it happens rarely. If every sign-in fails, check that "
        "users start at /login and not from a bookmarked IdP page.",
    ),
    "state_missing": Explanation(
        "The IdP came back without the state parameter.",
        "Check the redirect URI registered at the IdP: it must be this connection's exactly.",
    ),
    "browser_mismatch": Explanation(
        "The sign-in finished in another browser than the one that started it.",
        "Ask the user to sign in again in one browser window.",
    ),
    "code_missing": Explanation(
        "The IdP came back without an authorization code.",
        "Check the app at the IdP allows the authorization code flow (Okta: Grant type "
        "Authorization Code; Entra: Web platform).",
    ),
    "idp_error": Explanation(
        "The IdP answered with an error instead of signing the user in.",
        "Read the detail: most often the user is not assigned to the app at the IdP (Okta: "
        "Assignments; Entra: Users and groups).",
    ),
    "redirect_uri_mismatch": Explanation(
        "The redirect URI does not match the one registered at the IdP.",
        "Copy the redirect URI from the connection's page into the app at the IdP.",
    ),
    "token_exchange_failed": Explanation(
        "The IdP refused to exchange the code for tokens.",
        "Check the client secret: it may have expired or been rotated (Entra: Certificates & "
        "secrets). Edit the connection by adding a new one with the new secret.",
    ),
    "secret_unavailable": Explanation(
        "The client secret could not be decrypted.",
        "Ask the operator to check IDMESH_ENCRYPTION_KEY; then re-enter the client secret.",
    ),
    "invalid_signature": Explanation(
        "The token's or assertion's signature did not verify with the IdP's keys.",
        "For SAML, the IdP's signing certificate changed: use the metadata URL, or upload the new "
        "certificate. For OIDC, test the connection (JWKS).",
    ),
    "unknown_kid": Explanation(
        "The token was signed with a key the IdP's JWKS does not list.",
        "Test the connection; if the JWKS is fine, the IdP rotated keys just now: retry.",
    ),
    "iss_mismatch": Explanation(
        "The token's issuer is not the connection's issuer.",
        "Check the issuer (Entra: use the tenant's v2.0 issuer, not /common).",
    ),
    "aud_mismatch": Explanation(
        "The token was issued for another application.",
        "Check the client ID: it must be the app's Client ID (Entra: Application (client) ID).",
    ),
    "nonce_mismatch": Explanation(
        "The token's nonce is not this sign-in's: a replayed or mixed-up token.",
        "Ask the user to sign in again from /login.",
    ),
    "iat_too_old": Explanation("The token is too old when it arrived.", _CLOCK),
    "email_missing": Explanation(
        "The IdP sent no email address.",
        "Add the email claim (Entra: Token configuration → Add optional claim → email; Okta: "
        "the email scope) and make sure the user has an email at the IdP.",
    ),
    "email_not_verified": Explanation(
        "The IdP does not vouch for the email address.",
        "Use a verified email at the IdP (Entra: a user principal name in a verified domain).",
    ),
    "email_domain_not_served": Explanation(
        "The email's domain is not one this connection serves, or it is not verified.",
        "Add the domain to the connection and verify it on the Connections page.",
    ),
    "groups_overage": Explanation(
        "The user is in too many groups for Entra to list them in the token.",
        "In Entra, Token configuration → Edit groups claim → Groups assigned to the "
        "application, so only the app's groups are sent.",
    ),
    "user_not_provisioned": Explanation(
        "No user exists for this sign-in and the connection does not create users.",
        "Provision the user over SCIM first, or set the connection to create users.",
    ),
    "user_deactivated": Explanation(
        "The user is deactivated here.",
        "Reactivate the user on their page if they should have access.",
    ),
    "tenant_not_allowed": Explanation(
        "The user belongs to another Entra tenant than the connection's.",
        "Check the Directory (tenant) ID of the connection.",
    ),
    "relay_state_unknown": Explanation(
        "The SAML response did not belong to a sign-in this browser started.",
        "If users start at the IdP's dashboard, use /login instead (IdP-initiated sign-in is off).",
    ),
    "replayed": Explanation(
        "This SAML assertion was already used.",
        "Ask the user to sign in again; if it keeps happening, check the IdP is not resending.",
    ),
    "unsolicited_refused": Explanation(
        "The IdP started the sign-in (IdP-initiated), which this connection refuses.",
        "Have users start at /login, or the app tile point at /login.",
    ),
    "discovery_unavailable": Explanation(
        "The IdP's discovery document could not be fetched.",
        "Test the connection; check the issuer URL.",
    ),
    "jwks_unavailable": Explanation(
        "The IdP's signing keys could not be fetched.", "Test the connection."
    ),
}


def explain(reason: str) -> Explanation | None:
    return REASONS.get(reason)
