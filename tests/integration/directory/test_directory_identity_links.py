"""Identity links: (user, connection, IdP subject), the stable key of a federated user."""

from __future__ import annotations

import grpc
from google.protobuf import timestamp_pb2

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import ADMIN, Stub, audit_events, failure, new_account, new_user


def _link(account_id: str, user_id: str, subject: str, **fields: object) -> pb.LinkIdentityRequest:
    return pb.LinkIdentityRequest(
        link=pb.IdentityLink(
            account_id=account_id,
            user_id=user_id,
            connection_id="entra",
            subject=subject,
            **fields,  # type: ignore[arg-type]
        ),
        actor=pb.Actor(type=pb.ACTOR_TYPE_SSO_LOGIN, id="entra"),
    )


async def test_a_linked_identity_finds_its_user(directory: Stub) -> None:
    """docs/architecture.md: never key a login on a mutable email claim alone; the (connection,
    subject) pair finds the user."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)

    link = (await directory.LinkIdentity(_link(account.id, ada.id, "tid|oid-ada"))).link
    found = await directory.FindUserByIdentity(
        pb.FindUserByIdentityRequest(
            account_id=account.id, connection_id="entra", subject="tid|oid-ada"
        )
    )

    assert link.user_id == ada.id
    assert found.user.id == ada.id
    code, _ = await failure(
        directory.FindUserByIdentity(
            pb.FindUserByIdentityRequest(
                account_id=account.id, connection_id="entra", subject="TID|OID-ADA"
            )
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND


async def test_an_identity_links_to_one_user_only(directory: Stub) -> None:
    """Identity links are unique per (account, connection, subject): linking again is idempotent, to
    another user ALREADY_EXISTS."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    alan = await new_user(directory, account.id)
    await directory.LinkIdentity(_link(account.id, ada.id, "subject-1"))

    again = await directory.LinkIdentity(_link(account.id, ada.id, "subject-1"))
    code, error = await failure(directory.LinkIdentity(_link(account.id, alan.id, "subject-1")))

    assert again.link.user_id == ada.id
    assert (code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "uniqueness")
    actions = [e.action for e in await audit_events(directory, account.id, ada.id)]
    assert actions.count("identity_link.created") == 1


async def test_a_sign_in_activates_a_pending_user(directory: Stub) -> None:
    """UserStatus PENDING: provisioned, never signed in; the first sign-in makes it ACTIVE."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    when = timestamp_pb2.Timestamp(seconds=1_800_000_000)

    await directory.LinkIdentity(_link(account.id, ada.id, "s", last_login_time=when))

    user = (await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=ada.id))).user
    assert user.status == pb.USER_STATUS_ACTIVE
    assert user.last_login_time == when
    signed_in = (await audit_events(directory, account.id, ada.id))[-1]
    assert signed_in.action == "user.signed_in"
    assert signed_in.actor.type == pb.ACTOR_TYPE_SSO_LOGIN


async def test_unlinking_and_listing_links(directory: Stub) -> None:
    """ListIdentityLinks by account or user; UnlinkIdentity of an absent link is NOT_FOUND."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    alan = await new_user(directory, account.id)
    await directory.LinkIdentity(_link(account.id, ada.id, "a1"))
    await directory.LinkIdentity(_link(account.id, ada.id, "a2"))
    await directory.LinkIdentity(_link(account.id, alan.id, "b1"))

    adas = await directory.ListIdentityLinks(
        pb.ListIdentityLinksRequest(account_id=account.id, user_id=ada.id)
    )
    await directory.UnlinkIdentity(
        pb.UnlinkIdentityRequest(
            account_id=account.id, connection_id="entra", subject="a1", actor=ADMIN
        )
    )
    everyone = await directory.ListIdentityLinks(pb.ListIdentityLinksRequest(account_id=account.id))

    assert {link.subject for link in adas.links} == {"a1", "a2"}
    assert {link.subject for link in everyone.links} == {"a2", "b1"}
    code, _ = await failure(
        directory.UnlinkIdentity(
            pb.UnlinkIdentityRequest(
                account_id=account.id, connection_id="entra", subject="a1", actor=ADMIN
            )
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
