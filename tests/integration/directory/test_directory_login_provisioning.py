"""ProvisionLogin: the one sign-in path of every SSO protocol, on a real PostgreSQL (brief,
issue 4 "Provisioning on login"; the Torque guide; docs/sso-security.md nOAuth)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import (
    ADMIN,
    Stub,
    audit_events,
    details,
    failure,
    new_account,
    new_group,
    new_space,
    new_user,
    role_named,
)

CONNECTION = "3b0f7c1e-0000-4000-8000-00000000c0de"
SSO = pb.Actor(type=pb.ACTOR_TYPE_SSO_LOGIN, id=CONNECTION, display_name="Okta")


async def _account(directory: Stub) -> pb.Account:
    """A new account that has verified its email domain (``_email``): ProvisionLogin links or
    creates by email only inside a verified domain the connection serves."""
    account = await new_account(directory)
    await directory.ClaimDomain(
        pb.ClaimDomainRequest(
            account_id=account.id, domain=f"{account.name}.test", verified=True, actor=ADMIN
        )
    )
    return account


def _email(account: pb.Account, local: str) -> str:
    return f"{local}@{account.name}.test"


def _login(account: pb.Account, email: str = "", **fields: Any) -> pb.ProvisionLoginRequest:
    email = email or _email(account, "ada")
    _, _, domain = email.rpartition("@")
    request = pb.ProvisionLoginRequest(
        account_id=account.id,
        served_domains=fields.pop("served_domains", [domain.lower()]),
        connection_id=CONNECTION,
        subject=fields.pop("subject", f"https://idp.acme.test|{email.lower()}"),
        email=email,
        email_trusted=fields.pop("email_trusted", True),
        given_name=fields.pop("given_name", "Ada"),
        family_name=fields.pop("family_name", "Lovelace"),
        sync_groups=fields.pop("sync_groups", True),
        actor=SSO,
        **fields,
    )
    request.login_time.GetCurrentTime()
    return request


async def _sso_memberships(directory: Stub, account_id: str, user_id: str) -> dict[str, str]:
    response = await directory.GetUserAccess(
        pb.GetUserAccessRequest(account_id=account_id, user_id=user_id)
    )
    return {
        space.space_name: role.role_name
        for space in response.spaces
        for role in space.roles
        if role.source == pb.MEMBERSHIP_SOURCE_SSO
    }


async def _groups(directory: Stub, account_id: str, user_id: str) -> dict[str, set[int]]:
    """Each group of the user with the sources of its memberships."""
    listed = await directory.ListGroups(
        pb.ListGroupsRequest(account_id=account_id, include_members=True)
    )
    found: dict[str, set[int]] = {}
    for group in listed.groups:
        for member in group.members:
            if member.user_id == user_id:
                found.setdefault(group.display_name, set()).add(member.source)
    return found


async def test_a_first_login_creates_an_active_user_linked_to_the_identity(
    directory: Stub,
) -> None:
    """Just-in-time provisioning (the Torque guide): the user exists from the first login,
    signed in, with the link that finds it next time."""
    account = await _account(directory)
    response = await directory.ProvisionLogin(
        _login(account, timezone="Europe/Berlin", display_name="Ada L.")
    )
    user = response.user
    assert response.created
    assert response.linked
    assert response.first_login
    assert user.user_name == _email(account, "ada")
    assert user.status == pb.USER_STATUS_ACTIVE
    assert user.name.given_name == "Ada"
    assert user.timezone == "Europe/Berlin"
    assert user.emails[0].value == _email(account, "ada")
    assert user.HasField("last_login_time")
    found = await directory.FindUserByIdentity(
        pb.FindUserByIdentityRequest(
            account_id=account.id,
            connection_id=CONNECTION,
            subject=f"https://idp.acme.test|{_email(account, 'ada')}",
        )
    )
    assert found.user.id == user.id
    actions = [e.action for e in await audit_events(directory, account.id, user.id)]
    assert actions == ["user.created", "identity_link.created", "user.signed_in"]
    for event in await audit_events(directory, account.id, user.id):
        assert event.actor.type == pb.ACTOR_TYPE_SSO_LOGIN
        assert event.actor.id == CONNECTION


async def test_the_next_login_finds_the_user_by_its_link_even_if_the_email_changed(
    directory: Stub,
) -> None:
    """docs/architecture.md: never key a login on a mutable email claim alone."""
    account = await _account(directory)
    first = await directory.ProvisionLogin(_login(account, subject="iss|sub-1"))
    again = await directory.ProvisionLogin(
        _login(account, email=_email(account, "ada.lovelace"), subject="iss|sub-1")
    )
    assert again.user.id == first.user.id
    assert not again.created
    assert not again.linked
    assert not again.first_login


async def test_a_pending_scim_user_who_signs_in_is_the_same_user_now_active(
    directory: Stub,
) -> None:
    """The Torque guide, "Relation to SSO": a user provisioned over SCIM is pending until the
    first SSO login, which identifies it as the same user and performs a normal login."""
    account = await _account(directory)
    pending = await new_user(directory, account.id, _email(account, "Grace"))
    assert pending.status == pb.USER_STATUS_PENDING
    response = await directory.ProvisionLogin(_login(account, email=_email(account, "grace")))
    assert response.user.id == pending.id
    assert not response.created
    assert response.linked
    assert response.activated
    assert response.user.status == pb.USER_STATUS_ACTIVE
    signed_in = [
        e for e in await audit_events(directory, account.id, pending.id)
        if e.action == "user.signed_in"
    ]  # fmt: skip
    assert details(signed_in[0])["status"] == {"before": "pending", "after": "active"}


async def test_an_unverified_email_neither_links_an_existing_user_nor_creates_one(
    directory: Stub,
) -> None:
    """nOAuth (Descope 2023): a mutable, unverified email must not take over a user, nor claim
    a userName that a verified login would later need."""
    account = await _account(directory)
    victim = await new_user(directory, account.id, _email(account, "ceo"))
    code, error = await failure(
        directory.ProvisionLogin(_login(account, email=_email(account, "ceo"), email_trusted=False))
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "email_not_verified"
    code, error = await failure(
        directory.ProvisionLogin(_login(account, email=_email(account, "new"), email_trusted=False))
    )
    assert error.reason == "email_not_verified"
    still = await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=victim.id))
    assert still.user.status == pb.USER_STATUS_PENDING


async def test_an_email_outside_the_verified_domains_the_connection_serves_links_no_one(
    directory: Stub,
) -> None:
    """nOAuth across connections (login trust): an unlinked identity whose IdP vouches for an
    email may link or create a user only when the email's domain is a verified domain of the
    account AND one the connection serves; otherwise PERMISSION_DENIED email_domain_not_served,
    and nothing is written."""
    account = await _account(directory)
    victim = await new_user(directory, account.id, _email(account, "ceo"))
    other = f"other-{uuid.uuid4().hex[:8]}.test"
    await directory.ClaimDomain(
        pb.ClaimDomainRequest(account_id=account.id, domain=other, actor=ADMIN)
    )
    before = await audit_events(directory, account.id)
    refusals = [
        # The account's verified domain, but served by another connection only.
        _login(account, email=_email(account, "ceo"), subject="iss|b-1", served_domains=[other]),
        # Served by this connection, but only claimed, never verified.
        _login(account, email=f"ceo@{other}", subject="iss|b-2", served_domains=[other]),
        # Served and verified, in another spelling of a domain nobody serves.
        _login(account, email=_email(account, "ceo") + ".evil.test", subject="iss|b-3"),
    ]
    for request in refusals:
        code, error = await failure(directory.ProvisionLogin(request))
        assert (code, error.reason) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "email_domain_not_served",
        )
    assert await audit_events(directory, account.id) == before
    still = await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=victim.id))
    assert still.user.status == pb.USER_STATUS_PENDING


async def test_a_deactivated_user_is_refused_and_nothing_is_written(directory: Stub) -> None:
    """Brief: a deactivated user is refused (SCIM active=false)."""
    account = await _account(directory)
    user = await new_user(directory, account.id, _email(account, "gone"))
    user.active = False
    await directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=ADMIN))
    before = len(await audit_events(directory, account.id))
    code, error = await failure(
        directory.ProvisionLogin(_login(account, email=_email(account, "gone")))
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "user_deactivated"
    assert len(await audit_events(directory, account.id)) == before


async def test_the_link_only_and_deny_policies_create_no_one(directory: Stub) -> None:
    """Provisioning policy: only link existing users, or deny unknown users."""
    account = await _account(directory)
    await new_user(directory, account.id, _email(account, "known"))
    link_only = pb.LOGIN_PROVISIONING_POLICY_LINK_EXISTING_USERS
    _, error = await failure(
        directory.ProvisionLogin(
            _login(account, email=_email(account, "stranger"), policy=link_only)
        )
    )
    assert error.reason == "user_not_provisioned"
    linked = await directory.ProvisionLogin(
        _login(account, email=_email(account, "known"), policy=link_only)
    )
    assert linked.linked
    deny = pb.LOGIN_PROVISIONING_POLICY_DENY_UNKNOWN_USERS
    _code, error = await failure(
        directory.ProvisionLogin(
            _login(account, email=_email(account, "known"), subject="other", policy=deny)
        )
    )
    assert error.reason == "user_not_provisioned"
    # An identity linked before still signs in under "deny unknown users".
    again = await directory.ProvisionLogin(
        _login(account, email=_email(account, "known"), policy=deny)
    )
    assert again.user.id == linked.user.id


async def test_spaces_follow_the_six_rules_with_sso_as_the_source(directory: Stub) -> None:
    """The Torque guide: space_name/space_role pairs by position; an unknown space is ignored,
    an unknown role gives Space Member; manual memberships are not touched."""
    account = await _account(directory)
    trial = await new_space(directory, account.id, "Trial")
    await new_space(directory, account.id, "DevOps")
    member = await role_named(directory, account.id, "Space Member")
    response = await directory.ProvisionLogin(
        _login(
            account,
            spaces_present=True,
            space_names=["Trial", "Nowhere", "DevOps", "Trial"],
            space_roles=["Wizard", "Space Admin", "Space Developer", "Space Admin"],
        )
    )
    assert {g.space_name: g.role_name for g in response.spaces} == {
        "Trial": "Space Admin",
        "DevOps": "Space Developer",
    }
    assert list(response.ignored_spaces) == ["Nowhere"]
    assert list(response.unknown_roles) == ["Wizard"]
    user_id = response.user.id
    await directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=account.id,
            user_id=user_id,
            space_id=trial.id,
            role_id=member.id,
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=ADMIN,
        )
    )
    assert await _sso_memberships(directory, account.id, user_id) == {
        "Trial": "Space Admin",
        "DevOps": "Space Developer",
    }
    granted = [
        e
        for e in await audit_events(directory, account.id, user_id)
        if e.action == "space_role.granted" and e.actor.type == pb.ACTOR_TYPE_SSO_LOGIN
    ]
    assert len(granted) == 2  # fmt: skip


async def test_profile_and_spaces_change_only_at_the_first_login_unless_every_login(
    directory: Stub,
) -> None:
    """The Torque guide's note: the profile is set up at the first login; updating it on
    later logins is a per-connection option."""
    account = await _account(directory)
    await new_space(directory, account.id, "Trial")
    await new_space(directory, account.id, "DevOps")
    first = await directory.ProvisionLogin(
        _login(account, spaces_present=True, space_names=["Trial"], space_roles=[])
    )
    later = await directory.ProvisionLogin(
        _login(account, given_name="Augusta", spaces_present=True, space_names=["DevOps"])
    )
    assert not later.profile_applied
    assert later.user.name.given_name == "Ada"
    assert await _sso_memberships(directory, account.id, first.user.id) == {"Trial": "Space Member"}
    every = await directory.ProvisionLogin(
        _login(
            account,
            given_name="Augusta",
            spaces_present=True,
            space_names=["DevOps"],
            space_roles=["Space Developer"],
            update_every_login=True,
        )
    )
    assert every.profile_applied
    assert every.user.name.given_name == "Augusta"
    # The stale sso membership (Trial) is removed, DevOps granted.
    assert await _sso_memberships(directory, account.id, first.user.id) == {
        "DevOps": "Space Developer"
    }


async def test_users_the_idp_sends_no_space_for_get_the_connections_default(
    directory: Stub,
) -> None:
    """Seed 001: "a new user will be created ... assigned to a default space with a
    pre-configured role"."""
    account = await _account(directory)
    await new_space(directory, account.id, "Onboarding")
    response = await directory.ProvisionLogin(
        _login(account, default_space_name="onboarding", default_space_role="Space Developer")
    )
    assert await _sso_memberships(directory, account.id, response.user.id) == {
        "Onboarding": "Space Developer"
    }


async def test_an_invalid_timezone_is_ignored_and_said_so(directory: Stub) -> None:
    """The Torque guide: the timezone applies when it is a valid IANA name."""
    account = await _account(directory)
    response = await directory.ProvisionLogin(_login(account, timezone="Mars/Olympus"))
    assert response.timezone_ignored
    assert response.user.timezone == ""
    ok = await directory.ProvisionLogin(
        _login(account, timezone="Asia/Tokyo", update_every_login=True)
    )
    assert ok.user.timezone == "Asia/Tokyo"


async def test_group_sync_over_three_logins_adds_keeps_and_removes_but_not_manual(
    directory: Stub,
) -> None:
    """The Torque guide: "users are assigned and unassigned automatically with each login";
    docs/architecture.md: memberships added by hand are left alone (keycloak#36578 is what we
    fix)."""
    account = await _account(directory)
    admins = await new_group(directory, account.id, "Admins", idp_identifier="gid-admins")
    await new_group(directory, account.id, "Engineering", idp_identifier="gid-eng")
    await new_group(directory, account.id, "Unmapped")
    first = await directory.ProvisionLogin(
        _login(account, groups=["gid-admins", "gid-eng", "gid-unknown"])
    )
    user_id = first.user.id
    assert sorted(first.groups_added) == ["gid-admins", "gid-eng"]
    assert list(first.groups_unmatched) == ["gid-unknown"]
    # An admin also adds the user to Admins by hand.
    await directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=account.id,
            group_id=admins.id,
            add_user_ids=[user_id],
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=ADMIN,
        )
    )
    sso, manual = pb.MEMBERSHIP_SOURCE_SSO, pb.MEMBERSHIP_SOURCE_MANUAL
    assert await _groups(directory, account.id, user_id) == {
        "Admins": {sso, manual},
        "Engineering": {sso},
    }
    second = await directory.ProvisionLogin(_login(account, groups=["gid-admins", "gid-eng"]))
    assert list(second.groups_added) == []
    assert list(second.groups_removed) == []
    third = await directory.ProvisionLogin(_login(account, groups=["gid-eng"]))
    assert list(third.groups_removed) == ["gid-admins"]
    assert await _groups(directory, account.id, user_id) == {
        "Admins": {manual},
        "Engineering": {sso},
    }
    group = await directory.GetGroup(pb.GetGroupRequest(account_id=account.id, group_id=admins.id))
    assert group.group.member_count == 1
    changes = [
        e
        for e in await audit_events(directory, account.id, admins.id)
        if e.action == "group.members_changed" and e.actor.type == pb.ACTOR_TYPE_SSO_LOGIN
    ]
    assert len(changes) == 2  # fmt: skip


async def test_groups_are_left_unchanged_when_sync_is_off_as_after_an_overage(
    directory: Stub,
) -> None:
    """Entra groups overage: no groups claim is not "no groups"; memberships stay."""
    account = await _account(directory)
    await new_group(directory, account.id, "Engineering", idp_identifier="gid-eng")
    first = await directory.ProvisionLogin(_login(account, groups=["gid-eng"]))
    overage = await directory.ProvisionLogin(_login(account, sync_groups=False))
    assert not overage.groups_synced
    assert await _groups(directory, account.id, first.user.id) == {
        "Engineering": {pb.MEMBERSHIP_SOURCE_SSO}
    }


async def test_concurrent_first_logins_of_one_person_make_one_user(directory: Stub) -> None:
    """Two tabs finishing the first login at once: the unique userName and the link make one
    user, the loser of the race retries and finds it."""
    account = await _account(directory)
    email = _email(account, f"race-{uuid.uuid4().hex[:6]}")
    results = await asyncio.gather(
        *(directory.ProvisionLogin(_login(account, email=email)) for _ in range(4))
    )
    assert len({r.user.id for r in results}) == 1
    assert sum(r.created for r in results) == 1


async def test_another_accounts_user_is_never_found_or_changed(directory: Stub) -> None:
    """Tenant isolation: the same email in two accounts is two users."""
    acme = await _account(directory)
    globex = await _account(directory)
    theirs = await new_user(directory, globex.id, _email(acme, "ada"))
    mine = await directory.ProvisionLogin(_login(acme))
    assert mine.user.id != theirs.id
    assert mine.user.account_id == acme.id
    untouched = await directory.GetUser(pb.GetUserRequest(account_id=globex.id, user_id=theirs.id))
    assert untouched.user.status == pb.USER_STATUS_PENDING
