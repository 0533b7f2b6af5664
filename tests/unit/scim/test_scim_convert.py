"""scim.values and scim.convert: request bodies into directory messages and back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument
from scim.convert import (
    format_time,
    group_from_scim,
    group_to_scim,
    user_from_scim,
    user_to_scim,
)
from scim.schemas import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_RESOURCE,
    GROUP_SCHEMA,
    USER_RESOURCE,
    USER_SCHEMA,
)
from scim.values import normalize_resource

ENTERPRISE = ENTERPRISE_USER_SCHEMA
BASE = "https://idmesh.example/scim/v2"

# Entra's create (docs/scim-clients.md §2 row 4, Microsoft's documented request).
ENTRA_CREATE = {
    "schemas": [USER_SCHEMA, ENTERPRISE],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
    "active": True,
    "emails": [
        {
            "primary": True,
            "type": "work",
            "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
        }
    ],
    "meta": {"resourceType": "User"},
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName",
    },
    "roles": [],
}

# Okta's create (docs/scim-clients.md §5 row 3).
OKTA_CREATE = {
    "schemas": [USER_SCHEMA],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}


def stamp(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def full_user() -> pb.User:
    return pb.User(
        id="2819c223-7f76-453a-919d-413861904646",
        account_id="acc",
        user_name="bjensen@example.com",
        external_id="701984",
        name=pb.Name(
            formatted="Ms. Barbara J Jensen, III",
            family_name="Jensen",
            given_name="Barbara",
            middle_name="Jane",
            honorific_prefix="Ms.",
            honorific_suffix="III",
        ),
        display_name="Babs Jensen",
        nick_name="Babs",
        profile_url="https://login.example.com/bjensen",
        title="Tour Guide",
        user_type="Employee",
        preferred_language="en-US",
        locale="en-US",
        timezone="America/Los_Angeles",
        active=True,
        status=pb.USER_STATUS_PENDING,
        emails=[
            pb.MultiValue(value="bjensen@example.com", type="work", primary=True),
            pb.MultiValue(value="babs@jensen.org", type="home"),
        ],
        phone_numbers=[pb.MultiValue(value="555-555-5555", type="work")],
        ims=[pb.MultiValue(value="someaimhandle", type="aim")],
        photos=[pb.MultiValue(value="https://photos.example.com/profilephoto.jpg", type="photo")],
        addresses=[
            pb.Address(
                street_address="100 Universal City Plaza",
                locality="Hollywood",
                region="CA",
                postal_code="91608",
                country="USA",
                formatted="100 Universal City Plaza\nHollywood, CA 91608 USA",
                type="work",
                primary=True,
            )
        ],
        entitlements=[pb.MultiValue(value="beta", display="Beta access")],
        x509_certificates=[pb.MultiValue(value="MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw")],
        enterprise=pb.EnterpriseAttributes(
            employee_number="701984",
            cost_center="4130",
            organization="Universal Studios",
            division="Theme Park",
            department="Tour Operations",
            manager_id="26118915-6090-4610-87e4-49d8ca9f808d",
            manager_display_name="John Smith",
        ),
        account_role_id="r1",
        account_role_name="Account Member",
        create_time=stamp(1294833054, 123_000_000),
        update_time=stamp(1305261754),
        version=3,
    )


def writable(user: pb.User) -> pb.User:
    """The fields a SCIM client writes (what PUT replaces)."""
    copy = pb.User()
    copy.CopyFrom(user)
    for field in (
        "id",
        "account_id",
        "status",
        "account_role_id",
        "account_role_name",
        "create_time",
        "update_time",
        "last_login_time",
        "version",
    ):
        copy.ClearField(field)
    copy.enterprise.ClearField("manager_display_name")
    return copy


# ---------------------------------------------------------------------------------------------
# Output


def test_a_user_becomes_the_rfc_user_with_the_enterprise_extension_and_meta() -> None:
    """RFC 7643 §4.1, §4.3, §3.1 meta; version as a weak ETag (RFC 7644 §3.14)."""
    resource = user_to_scim(full_user(), BASE + "/")
    assert resource["schemas"] == [USER_SCHEMA, ENTERPRISE]
    assert resource["id"] == "2819c223-7f76-453a-919d-413861904646"
    assert resource["userName"] == "bjensen@example.com"
    assert resource["name"]["honorificSuffix"] == "III"
    assert resource["emails"][0] == {
        "value": "bjensen@example.com",
        "type": "work",
        "primary": True,
    }
    # primary is always given: a client that sent false reads false back (scim2-tester).
    assert resource["emails"][1] == {"value": "babs@jensen.org", "type": "home", "primary": False}
    assert resource["addresses"][0]["postalCode"] == "91608"
    assert resource["roles"] == [{"value": "Account Member"}]
    assert resource[ENTERPRISE]["manager"] == {
        "value": "26118915-6090-4610-87e4-49d8ca9f808d",
        "$ref": f"{BASE}/Users/26118915-6090-4610-87e4-49d8ca9f808d",
        "displayName": "John Smith",
    }
    assert resource["meta"] == {
        "resourceType": "User",
        "created": "2011-01-12T11:50:54.123Z",
        "lastModified": "2011-05-13T04:42:34.000Z",
        "location": f"{BASE}/Users/2819c223-7f76-453a-919d-413861904646",
        "version": 'W/"3"',
    }
    assert "password" not in resource
    assert "groups" not in resource


def test_a_pending_user_is_active() -> None:
    """Pending (never signed in) users are active in SCIM: Okta loops on "reactivating" users
    returned as active=false (docs/scim-clients.md §5 field reports)."""
    user = pb.User(id="u", user_name="a@b.c", active=True, status=pb.USER_STATUS_PENDING)
    assert user_to_scim(user, BASE)["active"] is True


def test_a_deactivated_user_is_returned_with_active_false() -> None:
    """Deactivation is the normal end of life: the user stays readable (scim-clients.md §1)."""
    user = pb.User(id="u", user_name="a@b.c", active=False, status=pb.USER_STATUS_DEACTIVATED)
    assert user_to_scim(user, BASE)["active"] is False


def test_empty_values_are_left_out() -> None:
    """proto3 empty strings are SCIM's absent values; no enterprise block without a value."""
    resource = user_to_scim(pb.User(id="u", user_name="a@b.c", active=True), BASE)
    assert resource == {
        "schemas": [USER_SCHEMA],
        "id": "u",
        "userName": "a@b.c",
        "active": True,
        "meta": {"resourceType": "User", "location": f"{BASE}/Users/u"},
    }


def test_a_group_becomes_the_rfc_group_with_members_and_its_idp_identifier() -> None:
    """RFC 7643 §4.2; externalId is the group's IdP identifier (issue). Members are value, $ref
    and type, as in RFC 7643 §8.7.1 (no display: clients compare members as they sent them)."""
    group = pb.Group(
        id="g1",
        display_name="Tour Guides",
        idp_identifier="e0c1c2d3",
        members=[pb.GroupMember(user_id="u1", user_name="babs@x.org", display_name="Babs")],
        version=7,
        create_time=stamp(1),
        update_time=stamp(2),
    )
    resource = group_to_scim(group, BASE)
    assert resource == {
        "schemas": [GROUP_SCHEMA],
        "id": "g1",
        "externalId": "e0c1c2d3",
        "displayName": "Tour Guides",
        "members": [{"value": "u1", "$ref": f"{BASE}/Users/u1", "type": "User"}],
        "meta": {
            "resourceType": "Group",
            "created": "1970-01-01T00:00:01.000Z",
            "lastModified": "1970-01-01T00:00:02.000Z",
            "location": f"{BASE}/Groups/g1",
            "version": 'W/"7"',
        },
    }
    assert "members" not in group_to_scim(group, BASE, with_members=False)


def test_an_unset_time_is_left_out() -> None:
    assert format_time(Timestamp()) is None


# ---------------------------------------------------------------------------------------------
# Input


def test_entras_create_request_is_accepted() -> None:
    """docs/scim-clients.md §2 row 4: meta ignored, roles [] = no role named."""
    user = user_from_scim(normalize_resource(USER_RESOURCE, ENTRA_CREATE))
    assert user.user_name == "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
    assert user.external_id == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    assert user.active is True
    assert user.name.given_name == "givenName"
    assert list(user.emails) == [
        pb.MultiValue(
            value="Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
            type="work",
            primary=True,
        )
    ]


def test_entras_older_create_with_explicit_nulls_is_accepted() -> None:
    """Older Entra samples send explicit nulls (scim-clients.md §2 row 4): null = absent."""
    body = {
        **ENTRA_CREATE,
        "displayName": None,
        "title": None,
        "name": {"formatted": None, "familyName": "F", "givenName": None},
        "phoneNumbers": None,
        "addresses": [None],
        ENTERPRISE: {"manager": None, "department": None},
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": None,
        "someUnknownAttribute": None,
    }
    resource = normalize_resource(USER_RESOURCE, body)
    assert resource["name"] == {"familyName": "F"}
    assert "displayName" not in resource
    assert ENTERPRISE not in resource
    assert "addresses" not in resource


def test_oktas_create_with_password_and_empty_groups_is_accepted_and_the_password_dropped() -> None:
    """docs/scim-clients.md §5 row 3: password never stored, groups: [] read-only."""
    resource = normalize_resource(USER_RESOURCE, OKTA_CREATE)
    assert "password" not in resource
    assert "groups" not in resource
    user = user_from_scim(resource)
    assert user.locale == "en-US"
    assert "1mz050nq" not in str(user)


def test_entras_adscim_group_uri_is_ignored() -> None:
    """docs/scim-clients.md §2 row 5: the extra URI must be ignored, not rejected."""
    body = {
        "schemas": [
            GROUP_SCHEMA,
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
        ],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Group1DisplayName",
        "meta": {"resourceType": "Group"},
    }
    group, members = group_from_scim(normalize_resource(GROUP_RESOURCE, body))
    assert group == pb.Group(
        display_name="Group1DisplayName", idp_identifier="8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    )
    assert members == []


def test_okta_group_push_with_members() -> None:
    """docs/scim-clients.md §5 row 8; duplicate members collapse."""
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": "Push",
        "members": [{"value": "u1", "display": "x"}, {"value": "u2"}, {"value": "u1"}],
    }
    _, members = group_from_scim(normalize_resource(GROUP_RESOURCE, body))
    assert members == ["u1", "u2"]


def test_nested_groups_are_refused_on_create() -> None:
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": "N",
        "members": [{"value": "g2", "type": "Group"}],
    }
    with pytest.raises(InvalidArgument, match="nested groups"):
        group_from_scim(normalize_resource(GROUP_RESOURCE, body))


def test_a_user_round_trips_through_scim() -> None:
    """user_to_scim then the POST/PUT path gives back every writable attribute."""
    user = full_user()
    resource = json.loads(json.dumps(user_to_scim(user, BASE)))
    assert user_from_scim(normalize_resource(USER_RESOURCE, resource)) == writable(user)


def test_a_group_round_trips_through_scim() -> None:
    group = pb.Group(
        id="g1",
        display_name="G",
        idp_identifier="x",
        members=[pb.GroupMember(user_id="u1"), pb.GroupMember(user_id="u2")],
    )
    back, members = group_from_scim(normalize_resource(GROUP_RESOURCE, group_to_scim(group, BASE)))
    assert back == pb.Group(display_name="G", idp_identifier="x")
    assert members == ["u1", "u2"]


def test_read_only_attributes_in_a_body_are_ignored() -> None:
    """RFC 7644 §3.3: readOnly attributes in a POST/PUT body SHALL be ignored (Okta's PUT sends
    the id and meta it read)."""
    body = {
        "schemas": [USER_SCHEMA],
        "id": "client-chosen",
        "userName": "a@b.c",
        "meta": {"version": 'W/"9"'},
        "groups": [{"value": "g1"}],
        ENTERPRISE: {"manager": {"value": "m1", "displayName": "ignored", "$ref": "ignored"}},
    }
    assert normalize_resource(USER_RESOURCE, body) == {
        "userName": "a@b.c",
        ENTERPRISE: {"manager": {"value": "m1"}},
    }


def test_attribute_names_are_case_insensitive_and_stored_canonically() -> None:
    """RFC 7643 §2.1."""
    body = {
        "SCHEMAS": [USER_SCHEMA.upper()],
        "USERNAME": "a@b.c",
        "Name": {"GIVENNAME": "A"},
        ENTERPRISE.lower(): {"Department": "D"},
    }
    assert normalize_resource(USER_RESOURCE, body) == {
        "userName": "a@b.c",
        "name": {"givenName": "A"},
        ENTERPRISE: {"department": "D"},
    }


def test_dotted_and_urn_qualified_keys_are_accepted_in_bodies_too() -> None:
    body = {
        "userName": "a@b.c",
        "name.givenName": "A",
        f"{ENTERPRISE}:employeeNumber": "7",
        f"{USER_SCHEMA}:title": "T",
    }
    assert normalize_resource(USER_RESOURCE, body) == {
        "userName": "a@b.c",
        "name": {"givenName": "A"},
        ENTERPRISE: {"employeeNumber": "7"},
        "title": "T",
    }


def test_a_bare_string_manager_in_a_body_is_its_value() -> None:
    """Entra's bare-string manager (docs/scim-clients.md §4), on create too."""
    resource = normalize_resource(
        USER_RESOURCE, {"userName": "a@b.c", ENTERPRISE: {"manager": "m1"}}
    )
    assert user_from_scim(resource).enterprise.manager_id == "m1"


def test_boolean_strings_are_accepted_on_create() -> None:
    resource = normalize_resource(USER_RESOURCE, {"userName": "a@b.c", "active": "False"})
    assert user_from_scim(resource).active is False


def test_active_defaults_to_true() -> None:
    assert user_from_scim({"userName": "a@b.c"}).active is True


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ({"schemas": [USER_SCHEMA], "userName": "a", "nosuch": 1}, "invalid_syntax", "nosuch"),
        ({"userName": "a", "name": {"nosuch": "x"}}, "invalid_syntax", "name"),
        (
            {"userName": "a", "urn:ietf:params:scim:schemas:extension:Custom:2.0:User": {"x": 1}},
            "invalid_syntax",
            "urn:ietf:params:scim:schemas:extension:Custom:2.0:User",
        ),
        ({"userName": "a", ENTERPRISE: {"nosuch": "x"}}, "invalid_syntax", f"{ENTERPRISE}:nosuch"),
        ({"userName": "a", ENTERPRISE: "x"}, "invalid_syntax", ENTERPRISE),
        ({"schemas": [GROUP_SCHEMA], "userName": "a"}, "invalid_syntax", "schemas"),
        ({"schemas": USER_SCHEMA, "userName": "a"}, "invalid_syntax", "schemas"),
        ({"userName": 42}, "invalid_value", "userName"),
        ({"userName": "a", "active": "yes"}, "invalid_value", "active"),
        ({"userName": "a", "emails": [{"value": 1}]}, "invalid_value", "emails.value"),
        ({"userName": "a", "emails": [{"primary": "maybe"}]}, "invalid_value", "emails.primary"),
        ({"userName": "a", "emails": ["not-an-object", 5]}, "invalid_value", "emails"),
        ({"userName": "a", "name": "Barbara"}, "invalid_value", "name"),
        ({"userName": "a", "title": ["T"]}, "invalid_value", "title"),
        ({"userName": "a\u0000b"}, "invalid_value", "userName"),
        ({"userName": "a", "password": 5}, "invalid_value", "password"),
        ([], "invalid_syntax", ""),
    ],
)
def test_bad_bodies_are_400_naming_the_attribute(body: Any, reason: str, field: str) -> None:
    """Unknown attributes → invalidSyntax (decision in values.normalize_resource); wrong types →
    invalidValue naming the attribute (issue)."""
    with pytest.raises(InvalidArgument) as caught:
        normalize_resource(USER_RESOURCE, body)
    assert caught.value.reason == reason, caught.value.message
    assert caught.value.field == field


def test_a_user_without_user_name_is_invalid_value() -> None:
    """RFC 7643 §4.1.1: userName is required (scim-sanity: missing userName → 400)."""
    with pytest.raises(InvalidArgument) as caught:
        user_from_scim(normalize_resource(USER_RESOURCE, {"schemas": [USER_SCHEMA], "name": {}}))
    assert caught.value.reason == "invalid_value"
    assert "userName" in caught.value.message


def test_a_group_without_display_name_is_invalid_value() -> None:
    with pytest.raises(InvalidArgument, match="displayName"):
        group_from_scim(normalize_resource(GROUP_RESOURCE, {"schemas": [GROUP_SCHEMA]}))
