"""Filters run as SQL on PostgreSQL: the operators, value paths, groups by member, and/or/not,
and the indexes that serve the IdPs' matching filters."""

from __future__ import annotations

import uuid

import asyncpg
import grpc
from google.protobuf import timestamp_pb2

from directory import filters
from directory.filters import Params, compile_filter
from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import (
    ADMIN,
    Stub,
    all_of,
    any_of,
    comparison,
    eq,
    failure,
    negate,
    new_account,
    new_group,
    new_user,
    value_path,
)


async def _names(directory: Stub, account_id: str, filter_: pb.Filter) -> set[str]:
    response = await directory.ListUsers(pb.ListUsersRequest(account_id=account_id, filter=filter_))
    return {u.user_name for u in response.users}


async def _people(directory: Stub) -> str:
    """An account with three users whose attributes the tests below filter on."""
    account = await new_account(directory)
    await new_user(
        directory,
        account.id,
        "ada@example.com",
        external_id="EXT-Ada",
        title="Engineer",
        name=pb.Name(given_name="Ada", family_name="Lovelace"),
        emails=[
            pb.MultiValue(value="Ada@Work.example", type="work", primary=True),
            pb.MultiValue(value="ada@home.example", type="home"),
        ],
    )
    await new_user(
        directory,
        account.id,
        "grace@example.com",
        title="Rear_Admiral 100%",
        name=pb.Name(given_name="Grace", family_name="Hopper"),
        emails=[pb.MultiValue(value="grace@work.example", type="home")],
    )
    await new_user(directory, account.id, "alan@other.example", title="")
    return account.id


async def test_eq_on_user_name_ignores_case_and_external_id_doesnegate(directory: Stub) -> None:
    """RFC 7643 §4.1.1: userName is caseExact=false; externalId is caseExact=true."""
    account_id = await _people(directory)

    assert await _names(directory, account_id, eq("user_name", "ADA@EXAMPLE.COM")) == {
        "ada@example.com"
    }
    assert await _names(directory, account_id, eq("external_id", "EXT-Ada")) == {"ada@example.com"}
    assert await _names(directory, account_id, eq("external_id", "ext-ada")) == set()


async def test_co_sw_and_ew_match_substrings_and_escape_like_wildcards(directory: Stub) -> None:
    """`co "_"` matches a literal underscore, not any character, and `%` a literal percent."""
    account_id = await _people(directory)

    def op(operator: int, value: str) -> pb.Filter:
        return comparison("title", operator, string_value=value)

    assert await _names(directory, account_id, op(pb.OPERATOR_CONTAINS, "_")) == {
        "grace@example.com"
    }
    assert await _names(directory, account_id, op(pb.OPERATOR_CONTAINS, "%")) == {
        "grace@example.com"
    }
    assert await _names(directory, account_id, op(pb.OPERATOR_STARTS_WITH, "eng")) == {
        "ada@example.com"
    }
    assert await _names(directory, account_id, op(pb.OPERATOR_ENDS_WITH, "0%")) == {
        "grace@example.com"
    }
    user_ends = comparison("user_name", pb.OPERATOR_ENDS_WITH, string_value="@EXAMPLE.com")
    assert await _names(directory, account_id, user_ends) == {
        "ada@example.com",
        "grace@example.com",
    }


async def test_pr_means_present_and_not_empty(directory: Stub) -> None:
    """RFC 7644 §3.4.2.2: `pr` is true when the attribute has a non-empty value."""
    account_id = await _people(directory)

    assert await _names(directory, account_id, comparison("title", pb.OPERATOR_PRESENT)) == {
        "ada@example.com",
        "grace@example.com",
    }
    assert await _names(directory, account_id, comparison("emails", pb.OPERATOR_PRESENT)) == {
        "ada@example.com",
        "grace@example.com",
    }


async def test_gt_compares_strings_and_timestamps(directory: Stub) -> None:
    """gt/ge/lt/le on strings (case-insensitively for userName) and on times (SCIM meta.created)."""
    account_id = await _people(directory)
    later = timestamp_pb2.Timestamp(seconds=4_000_000_000)

    assert await _names(
        directory, account_id, comparison("user_name", pb.OPERATOR_GREATER, string_value="b")
    ) == {"grace@example.com"}
    assert (
        await _names(
            directory,
            account_id,
            comparison("create_time", pb.OPERATOR_GREATER, timestamp_value=later),
        )
        == set()
    )
    assert (
        len(
            await _names(
                directory,
                account_id,
                comparison("create_time", pb.OPERATOR_LESS_OR_EQUAL, timestamp_value=later),
            )
        )
        == 3
    )


async def test_emails_value_and_entras_work_emailvalue_path(directory: Stub) -> None:
    """docs/scim-clients.md §2: Entra matches on `emails[type eq "work"].value eq "x"`;
    an element must satisfy the whole condition (grace's work-looking address is type home)."""
    account_id = await _people(directory)

    work_email = value_path("emails", all_of(eq("type", "work"), eq("value", "grace@work.example")))
    ada_work = value_path("emails", all_of(eq("type", "WORK"), eq("value", "ada@work.example")))
    any_email = eq("emails.value", "ADA@HOME.example")
    contains = comparison("emails.value", pb.OPERATOR_CONTAINS, string_value="@work.")

    assert await _names(directory, account_id, work_email) == set()
    assert await _names(directory, account_id, ada_work) == {"ada@example.com"}
    assert await _names(directory, account_id, any_email) == {"ada@example.com"}
    assert await _names(directory, account_id, contains) == {
        "ada@example.com",
        "grace@example.com",
    }


async def test_and_or_not_nest(directory: Stub) -> None:
    """RFC 7644 §3.4.2.2: logical operators nest, `not` included."""
    account_id = await _people(directory)

    either = any_of(eq("name.given_name", "ada"), eq("name.family_name", "HOPPER"))
    not_ada = all_of(either, negate(eq("user_name", "ada@example.com")))

    assert await _names(directory, account_id, either) == {"ada@example.com", "grace@example.com"}
    assert await _names(directory, account_id, not_ada) == {"grace@example.com"}
    assert await _names(
        directory, account_id, negate(comparison("title", pb.OPERATOR_PRESENT))
    ) == {"alan@other.example"}


async def test_active_filters_on_deactivation(directory: Stub) -> None:
    """active is false only for deactivated users; pending ones count as active."""
    account = await new_account(directory)
    kept = await new_user(directory, account.id)
    gone = await new_user(directory, account.id)
    gone.active = False
    await directory.UpdateUser(pb.UpdateUserRequest(user=gone, actor=ADMIN))

    active = comparison("active", pb.OPERATOR_EQUAL, bool_value=True)
    inactive = comparison("active", pb.OPERATOR_EQUAL, bool_value=False)

    assert await _names(directory, account.id, active) == {kept.user_name}
    assert await _names(directory, account.id, inactive) == {gone.user_name}


async def test_groups_are_found_by_member(directory: Stub) -> None:
    """docs/scim-clients.md §2 step 7: Entra checks a membership with
    `id eq "<gid>" and members[value eq "<uid>"]` and expects a correct 0/1 result."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    alan = await new_user(directory, account.id)
    with_ada = await new_group(
        directory, account.id, "With Ada", members=[pb.GroupMember(user_id=ada.id)]
    )
    await new_group(directory, account.id, "Without", members=[pb.GroupMember(user_id=alan.id)])

    async def groups(filter_: pb.Filter) -> list[str]:
        response = await directory.ListGroups(
            pb.ListGroupsRequest(account_id=account.id, filter=filter_)
        )
        return [g.display_name for g in response.groups]

    by_member = value_path("members", eq("user_id", ada.id))
    assert await groups(by_member) == ["With Ada"]
    assert await groups(eq("members.user_id", ada.id)) == ["With Ada"]
    assert await groups(all_of(eq("id", with_ada.id), by_member)) == ["With Ada"]
    assert await groups(all_of(eq("id", with_ada.id), eq("members", alan.id))) == []
    assert await groups(eq("display_name", "with ADA")) == ["With Ada"]
    assert await groups(eq("id", "not-a-guid")) == []


async def test_an_unknown_attribute_is_invalid_never_an_empty_result(directory: Stub) -> None:
    """Keycloak answers an unmapped attribute with 0 results (docs/scim-clients.md §7);
    the directory answers INVALID_ARGUMENT field "filter", reason "invalid_filter"."""
    account = await new_account(directory)

    for bad in (
        eq("password", "x"),
        comparison("active", pb.OPERATOR_EQUAL, string_value="yes"),
        comparison("active", pb.OPERATOR_CONTAINS, bool_value=True),
        value_path("emails", eq("colour", "x")),
        pb.Filter(),
    ):
        code, error = await failure(
            directory.ListUsers(pb.ListUsersRequest(account_id=account.id, filter=bad))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert (error.field, error.reason) == ("filter", "invalid_filter")


async def _plan(pool: asyncpg.Pool, filter_: pb.Filter, account_id: str) -> str:
    params = Params(account_id)
    where = compile_filter(filter_, filters.USERS, params)
    rows = await pool.fetch(
        f"EXPLAIN SELECT u.id FROM directory.users u WHERE u.account_id = $1 AND {where}",
        *params.values,
    )
    return "\n".join(r[0] for r in rows)


async def test_the_matching_filters_of_idps_run_on_indexes(
    directory: Stub, directory_pool: asyncpg.Pool
) -> None:
    """docs/architecture.md: filters run as SQL on indexes. userName, externalId and the work-email
    value path (what Entra and Okta match users on) each have an index that serves them, in an
    account large enough for the planner to care."""
    account = await new_account(directory)
    await directory_pool.execute(
        """
        INSERT INTO directory.users (account_id, user_name, external_id, emails, account_role_id)
        SELECT $1, 'bulk' || n || '@example.com', 'ext-' || n,
            jsonb_build_array(jsonb_build_object('value', 'bulk' || n || '@work.example',
                'type', 'work', 'primary', true, 'display', '')),
            (SELECT id FROM directory.roles WHERE account_id = $1 AND name = 'Account Member')
        FROM generate_series(1, 3000) AS n
        """,
        uuid.UUID(account.id),
    )
    await directory_pool.execute("ANALYZE directory.users")

    user_name = await _plan(directory_pool, eq("user_name", "bulk7@example.com"), account.id)
    external_id = await _plan(directory_pool, eq("external_id", "ext-7"), account.id)
    email = await _plan(
        directory_pool,
        value_path("emails", all_of(eq("type", "work"), eq("value", "bulk7@work.example"))),
        account.id,
    )

    assert "users_user_name_key" in user_name
    assert "users_external_id_idx" in external_id
    assert "users_emails_idx" in email
    found = await _names(directory, account.id, eq("emails.value", "BULK7@work.example"))
    assert found == {"bulk7@example.com"}
