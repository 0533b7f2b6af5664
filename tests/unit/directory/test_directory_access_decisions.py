"""directory.access.decide: CheckAccess from the store's rows, without a database."""

from __future__ import annotations

from typing import Any

from directory.access import decide


def _row(
    role_name: str | None = None,
    permissions: list[str] | None = None,
    source: str | None = None,
    group_name: str | None = None,
    status: str = "active",
) -> dict[str, Any]:
    return {
        "status": status,
        "account_role_name": "Account Member",
        "account_permissions": [],
        "role_name": role_name,
        "permissions": permissions,
        "source": source,
        "group_name": group_name,
    }


def test_a_deactivated_user_may_do_nothing() -> None:
    """CheckAccess: a deactivated user is denied first, whatever its roles."""
    rows = [_row("Space Admin", ["space:read"], "manual", status="deactivated")]

    assert decide(rows, "space:read", in_space=True) == (False, "user is deactivated")


def test_no_role_in_the_space_is_a_denial_that_says_so() -> None:
    """CheckAccess.reason says why not: here, no role at all in the space."""
    assert decide([_row()], "space:read", in_space=True) == (False, "no role in the space")


def test_a_direct_grant_is_named_before_a_group_grant() -> None:
    """When both grant it, the reason names the direct grant, the one an admin changes first."""
    rows = [
        _row("Space Member", ["space:read"], "group", "Everyone"),
        _row("Space Member", ["space:read"], "scim"),
    ]

    assert decide(rows, "space:read", in_space=True) == (
        True,
        "granted by space role Space Member (scim)",
    )


def test_a_group_grant_names_the_group() -> None:
    """CheckAccess.reason: which role, and through which group."""
    rows = [
        _row("Space Member", ["space:read"], "scim"),
        _row("Space Developer", ["space:read", "space:deploy"], "group", "Deployers"),
    ]

    allowed, reason = decide(rows, "space:deploy", in_space=True)

    assert allowed
    assert reason == "granted by space role Space Developer via group Deployers"


def test_a_denial_names_the_roles_held() -> None:
    """CheckAccess.reason: the roles held that do not grant the permission."""
    rows = [_row("Space Member", ["space:read"], "sso")]

    assert decide(rows, "space:manage", in_space=True) == (
        False,
        "space roles Space Member do not grant space:manage",
    )


def test_account_permissions_come_from_the_account_role() -> None:
    """An empty space_id checks the account role's permissions."""
    row = _row() | {"account_role_name": "Account Admin", "account_permissions": ["users:manage"]}

    assert decide([row], "users:manage", in_space=False) == (
        True,
        "granted by account role Account Admin",
    )
    assert decide([row], "audit:read", in_space=False)[0] is False
