"""The sign-in pages and cookies of the gateway, pure: escaping, the uniform error page, the
cookie attributes, the start URLs (brief, issue 4 "Sign-in pages"; RFC 6265bis)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gateway.config import load_gateway_config
from gateway.errors import Problem
from gateway.pages.errors import error_page, render_html_problem
from gateway.pages.html import CSP
from gateway.pages.login import start_url
from gateway.pages.me import me_context
from gateway.pages.templates import render_page, render_text
from gateway.sso import cookies
from idmesh.directory.v1 import directory_pb2


def _email_form(**context: str) -> str:
    values = {"title": "Sign in", "return_to": "", "email": "", "error": "", "note": ""}
    return render_text("signin/email.html", {**values, **context})


def test_every_value_is_escaped_in_text_and_attributes() -> None:
    """The templates autoescape (Jinja2, autoescape on): a value is text, never markup."""
    form = _email_form(return_to='"><script>x</script>', email="<b>@x.test", error="<i>")
    assert "<script>" not in form
    assert "<b>" not in form
    assert "&lt;i&gt;" in form
    assert "&#34;&gt;&lt;script&gt;" in form


def test_a_page_is_html_with_a_language_a_title_and_strict_headers() -> None:
    """Accessible (lang, one h1) and locked down: scripts and styles from the gateway's own
    files only (no inline code, no 'unsafe-inline'), no framing, no cache."""
    response = render_page("signin/logout.html", {"title": "Sign in <now>"})
    assert response.text is not None
    assert '<html lang="en">' in response.text
    assert "<h1>Sign in &lt;now&gt;</h1>" in response.text
    assert response.text.count("<h1>") == 1
    assert '<link rel="stylesheet" href="/static/console.css">' in response.text
    assert "<style" not in response.text
    assert response.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP
    assert "style-src 'self'" in CSP
    assert "unsafe-inline" not in CSP
    assert "frame-ancestors 'none'" in CSP
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_email_form_labels_its_field_and_focuses_it() -> None:
    """WCAG: a visible label tied to the input; focus lands in the field; errors are alerts
    described by the input."""
    form = _email_form(error="No single sign-on")
    assert '<label for="email">Work email</label>' in form
    assert 'id="email"' in form
    assert "autofocus" in form
    assert 'aria-invalid="true"' in form
    assert 'role="alert" id="email-error"' in form
    assert 'aria-describedby="email-hint email-error"' in form


def test_the_error_page_is_the_same_for_every_failure_and_names_only_the_trace() -> None:
    """A uniform page: no reason, no oracle; the trace id to quote."""
    first = error_page("abc123", 403)
    second = render_html_problem(
        make_mocked_request("GET", "/sso/oidc/x/callback"),
        Problem(403, "the ID token's nonce is not this login's", trace_id="abc123"),
    )
    assert isinstance(second, web.Response)
    assert first.text == second.text
    assert first.text is not None
    assert "nonce" not in first.text
    assert '<code id="trace-id">abc123</code>' in first.text
    assert 'href="/login"' in first.text
    assert error_page("t", 503).status == 503


def test_start_urls_carry_return_to_and_login_hint_encoded() -> None:
    url = start_url("c1", return_to="/me?a=b&c", login_hint="ada@acme.test")
    assert url.startswith("/sso/oidc/c1/start?")
    assert url == "/sso/oidc/c1/start?return_to=/me?a%3Db%26c&login_hint=ada@acme.test"


def test_cookies_are_httponly_lax_and_secure_behind_https() -> None:
    """RFC 6265bis: HttpOnly (no script reads a session), SameSite=Lax (sent on the IdP's
    top-level redirect, not on cross-site posts), Secure whenever PUBLIC_URL is https."""
    https = load_gateway_config({"PUBLIC_URL": "https://id.acme.test"})
    http = load_gateway_config({"PORT": "8080"})
    response = web.Response()
    cookies.set_login(response, "B" * 43, https)
    morsel = response.cookies[cookies.LOGIN_COOKIE]
    assert morsel["httponly"]
    assert morsel["secure"]
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/sso/"
    plain = web.Response()
    cookies.set_login(plain, "B" * 43, http)
    assert not plain.cookies[cookies.LOGIN_COOKIE]["secure"]


def test_me_lists_spaces_with_the_source_of_each_role_and_the_groups() -> None:
    access = directory_pb2.GetUserAccessResponse(
        user=directory_pb2.User(
            user_name="ada@acme.test",
            display_name="Ada <L>",
            timezone="Europe/Paris",
            status=directory_pb2.USER_STATUS_ACTIVE,
        ),
        spaces=[
            directory_pb2.SpaceAccess(
                space_name="DevOps",
                roles=[
                    directory_pb2.RoleGrant(
                        role_name="Space Developer", source=directory_pb2.MEMBERSHIP_SOURCE_SSO
                    ),
                    directory_pb2.RoleGrant(
                        role_name="Space Admin",
                        source=directory_pb2.MEMBERSHIP_SOURCE_GROUP,
                        group_name="Admins",
                    ),
                ],
            )
        ],
        groups=[directory_pb2.Group(display_name="Admins")],
    )
    html = render_text("signin/me.html", me_context(access))
    assert "Ada &lt;L&gt;" in html
    assert "Space Developer <small>(single sign-on)</small>" in html
    assert "Space Admin <small>(group Admins)</small>" in html
    assert "<li>Admins</li>" in html
    assert '<th scope="col">Space</th>' in html
