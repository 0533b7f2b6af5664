"""scim.patch: RFC 7644 §3.5.2 semantics and every client dialect of docs/scim-clients.md."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshkit.errors import InvalidArgument
from scim.patch import MembershipChange, PatchResult, apply_patch
from scim.schemas import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_RESOURCE,
    GROUP_SCHEMA,
    PATCH_OP_SCHEMA,
    USER_RESOURCE,
    USER_SCHEMA,
)

ENTERPRISE = ENTERPRISE_USER_SCHEMA
META = {
    "resourceType": "User",
    "created": "2024-01-01T00:00:00.000Z",
    "lastModified": "2024-01-02T00:00:00.000Z",
    "location": "https://idmesh.example/scim/v2/Users/u1",
    "version": 'W/"3"',
}


def user() -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": "u1",
        "externalId": "ext-1",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
        "displayName": "Babs Jensen",
        "active": True,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood"},
        ],
        "roles": [{"value": "Account Member"}],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {
                "value": "m1",
                "$ref": "https://idmesh.example/scim/v2/Users/m1",
                "displayName": "John Smith",
            },
        },
        "meta": dict(META),
    }


def group(with_members: bool = False) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": "g1",
        "externalId": "e0c1c2d3",
        "displayName": "Tour Guides",
        "meta": {"resourceType": "Group", "version": 'W/"7"'},
    }
    if with_members:
        resource["members"] = [
            {"value": "u1", "display": "Babs", "type": "User"},
            {"value": "u1091", "display": "Jim", "type": "User"},
            {"value": "u2", "display": "Ann", "type": "User"},
        ]
    return resource


def patch(*operations: dict[str, Any], schemas: list[str] | None = None) -> dict[str, Any]:
    return {"schemas": schemas or [PATCH_OP_SCHEMA], "Operations": list(operations)}


def patch_user(
    *operations: dict[str, Any], resource: dict[str, Any] | None = None
) -> dict[str, Any]:
    return apply_patch(USER_RESOURCE, resource or user(), patch(*operations)).resource


def patch_group(*operations: dict[str, Any]) -> PatchResult:
    return apply_patch(GROUP_RESOURCE, group(), patch(*operations), track_members=True)


def delta(result: PatchResult) -> tuple[list[str] | None, list[str], list[str]]:
    assert result.members is not None
    return result.members.members, result.members.added, result.members.removed


def refused(reason: str, *operations: dict[str, Any], resource_type: Any = USER_RESOURCE) -> str:
    resource = user() if resource_type is USER_RESOURCE else group()
    with pytest.raises(InvalidArgument) as caught:
        apply_patch(resource_type, resource, patch(*operations), track_members=True)
    assert caught.value.reason == reason, caught.value.message
    return caught.value.message


# ---------------------------------------------------------------------------------------------
# RFC 7644 §3.5.2.1 add


def test_add_members_to_a_group_appends_them() -> None:
    """RFC 7644 §3.5.2.1 example: add members with a list of values."""
    result = patch_group(
        {
            "op": "add",
            "path": "members",
            "value": [
                {"display": "Babs Jensen", "$ref": "https://x/Users/2819c223", "value": "2819c223"}
            ],
        }
    )
    assert delta(result) == (None, ["2819c223"], [])


def test_add_without_a_path_adds_each_attribute_of_the_value() -> None:
    """RFC 7644 §3.5.2.1 example: no path; an email equal to an existing one is not duplicated."""
    result = patch_user(
        {
            "op": "add",
            "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs",
            },
        }
    )
    assert result["nickName"] == "Babs"
    assert result["emails"] == user()["emails"]


def test_add_to_a_multi_valued_attribute_appends_a_new_value() -> None:
    """RFC 7644 §3.5.2.1: "a new value is added to the attribute"."""
    result = patch_user(
        {"op": "add", "path": "emails", "value": [{"value": "b@x.org", "type": "other"}]}
    )
    assert result["emails"][-1] == {"value": "b@x.org", "type": "other"}
    assert len(result["emails"]) == 3


def test_add_on_a_complex_attribute_merges_its_sub_attributes() -> None:
    """RFC 7644 §3.5.2.1: for a complex attribute the value is a set of sub-attributes."""
    result = patch_user({"op": "add", "path": "name", "value": {"middleName": "J"}})
    assert result["name"] == {
        "givenName": "Barbara",
        "familyName": "Jensen",
        "formatted": "Barbara Jensen",
        "middleName": "J",
    }


def test_add_on_a_simple_attribute_that_has_a_value_replaces_it() -> None:
    """RFC 7644 §3.5.2.1: "If the target location specifies a single-valued attribute, the
    existing value is replaced"."""
    assert patch_user({"op": "add", "path": "displayName", "value": "B"})["displayName"] == "B"


def test_add_with_a_null_value_changes_nothing() -> None:
    """Entra skips nulls (docs/scim-clients.md §2): a null add has nothing to add."""
    assert patch_user({"op": "add", "path": "displayName", "value": None}) == user()


# ---------------------------------------------------------------------------------------------
# RFC 7644 §3.5.2.2 remove


def test_remove_one_member_by_filter() -> None:
    """RFC 7644 §3.5.2.2 example: members[value eq "…"]."""
    result = patch_group({"op": "remove", "path": 'members[value eq "2819c223"]'})
    assert delta(result) == (None, [], ["2819c223"])


def test_remove_all_members() -> None:
    """RFC 7644 §3.5.2.2 example: remove with the path "members" and no value."""
    assert delta(patch_group({"op": "remove", "path": "members"})) == ([], [], [])


def test_remove_the_values_a_complex_filter_selects() -> None:
    """RFC 7644 §3.5.2.2 example: emails[type eq "work" and value ew "example.com"]."""
    result = patch_user(
        {"op": "remove", "path": 'emails[type eq "work" and value ew "example.com"]'}
    )
    assert result["emails"] == [{"value": "babs@jensen.org", "type": "home"}]


def test_remove_then_add_members_in_one_request() -> None:
    """RFC 7644 §3.5.2.2 example and Okta's Group Push (docs/scim-clients.md §5 row 10)."""
    result = patch_group(
        {"op": "remove", "path": 'members[value eq "2819c223"]'},
        {"op": "remove", "path": 'members[value eq "902c246b"]'},
        {"op": "add", "path": "members", "value": [{"value": "8842c7e0"}, {"value": "902c246b"}]},
    )
    assert delta(result) == (None, ["8842c7e0", "902c246b"], ["2819c223"])


def test_remove_a_whole_attribute() -> None:
    """RFC 7644 §3.5.2.2 example: remove "x509Certificates" (here: addresses)."""
    assert "addresses" not in patch_user({"op": "remove", "path": "addresses"})


def test_remove_a_sub_attribute() -> None:
    """RFC 7644 §3.5.2.2: the sub-attribute is removed, the rest stays."""
    result = patch_user({"op": "remove", "path": "name.formatted"})
    assert result["name"] == {"givenName": "Barbara", "familyName": "Jensen"}


def test_remove_a_sub_attribute_of_the_matching_values() -> None:
    """RFC 7644 §3.5.2.2: valuePath + subAttr removes that sub-attribute of each match."""
    result = patch_user({"op": "remove", "path": 'addresses[type eq "home"].locality'})
    assert result["addresses"][1] == {"type": "home", "streetAddress": "456 Hollywood Blvd"}
    assert result["addresses"][0]["locality"] == "Hollywood"


def test_a_remove_filter_that_matches_nothing_changes_nothing() -> None:
    """Idempotent removal: an IdP's retry of a remove must not fail."""
    assert patch_user({"op": "remove", "path": 'emails[type eq "other"]'}) == user()


def test_removing_the_last_value_leaves_the_attribute_unassigned() -> None:
    """RFC 7644 §3.5.2.2: "If no other values remain ... considered unassigned"."""
    result = patch_user({"op": "remove", "path": 'emails[value co "@"]'})
    assert "emails" not in result


def test_removing_a_required_attribute_is_a_mutability_error() -> None:
    """Issue: `remove` of a required attribute → 400 mutability."""
    assert "userName" in refused("mutability", {"op": "remove", "path": "userName"})
    refused("mutability", {"op": "remove", "path": "displayName"}, resource_type=GROUP_RESOURCE)


def test_remove_without_a_path_is_no_target() -> None:
    """RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails with ... noTarget"."""
    refused("no_target", {"op": "remove", "value": {"title": "x"}})


def test_removing_the_manager_value_removes_the_manager() -> None:
    """manager.value is required within manager: without it there is no manager."""
    result = patch_user({"op": "remove", "path": f"{ENTERPRISE}:manager.value"})
    assert "manager" not in result[ENTERPRISE]


def test_removing_the_last_extension_attribute_drops_the_extension() -> None:
    resource = user()
    resource[ENTERPRISE] = {"department": "X"}
    result = patch_user({"op": "remove", "path": f"{ENTERPRISE}:department"}, resource=resource)
    assert ENTERPRISE not in result


# ---------------------------------------------------------------------------------------------
# RFC 7644 §3.5.2.3 replace


def test_replace_all_members() -> None:
    """RFC 7644 §3.5.2.3 example: replace members with a list (Okta's full push)."""
    result = patch_group(
        {"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}
    )
    assert delta(result) == (["a", "b"], [], [])


def test_replace_the_values_a_filter_selects() -> None:
    """RFC 7644 §3.5.2.3 example: replace addresses[type eq "work"] with a new address."""
    result = patch_user(
        {
            "op": "replace",
            "path": 'addresses[type eq "work"]',
            "value": {"type": "work", "streetAddress": "911 Universal City Plaza", "primary": True},
        }
    )
    assert result["addresses"][0] == {
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "primary": True,
    }
    assert result["addresses"][1] == user()["addresses"][1]


def test_replacing_a_selected_value_keeps_the_filter_values() -> None:
    """The replaced element stays selectable by the same path even if the value omits them."""
    result = patch_user(
        {"op": "replace", "path": 'addresses[type eq "work"]', "value": {"locality": "LA"}}
    )
    assert result["addresses"][0] == {"type": "work", "locality": "LA"}


def test_replace_a_sub_attribute_of_the_selected_values() -> None:
    """RFC 7644 §3.5.2.3 example: addresses[type eq "work"].streetAddress."""
    result = patch_user(
        {
            "op": "replace",
            "path": 'addresses[type eq "work"].streetAddress',
            "value": "1010 Broadway Ave",
        }
    )
    assert result["addresses"][0]["streetAddress"] == "1010 Broadway Ave"
    assert result["addresses"][0]["locality"] == "Hollywood"


def test_replace_without_a_path_replaces_each_attribute() -> None:
    """RFC 7644 §3.5.2.3 example: no path; a multi-valued attribute is replaced as a whole."""
    result = patch_user(
        {
            "op": "replace",
            "value": {
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
                "nickName": "Babs",
            },
        }
    )
    assert result["emails"] == [{"value": "bjensen@example.com", "type": "work", "primary": True}]
    assert result["nickName"] == "Babs"


def test_replace_on_a_complex_attribute_leaves_other_sub_attributes_unchanged() -> None:
    """RFC 7644 §3.5.2.3: "Sub-attributes that are not specified in the value parameter are left
    unchanged"."""
    result = patch_user({"op": "replace", "path": "name", "value": {"givenName": "Babs"}})
    assert result["name"] == {
        "givenName": "Babs",
        "familyName": "Jensen",
        "formatted": "Barbara Jensen",
    }


def test_replace_with_null_clears_the_attribute() -> None:
    """Entra clears values it cannot send as null another way; null = absent."""
    assert "displayName" not in patch_user({"op": "replace", "path": "displayName", "value": None})
    assert "displayName" not in patch_user({"op": "replace", "path": "displayName", "value": ""})


def test_replace_of_a_required_attribute_with_null_is_refused() -> None:
    refused("invalid_value", {"op": "replace", "path": "userName", "value": None})


def test_a_filter_that_matches_nothing_and_cannot_build_a_value_is_no_target() -> None:
    """RFC 7644 §3.5.2.3: a filter yielding no match is noTarget, unless the value can be built
    from eq conditions (see the Entra tests)."""
    refused("no_target", {"op": "replace", "path": 'emails[value co "nowhere"].type', "value": "x"})


# ---------------------------------------------------------------------------------------------
# Entra ID, default dialect and ?aadOptscim062020 (docs/scim-clients.md §3)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "replace", "path": "active", "value": False},
        {"op": "REPLACE", "path": "active", "value": "false"},
        {"op": "replace", "value": {"active": False}},
        {"op": "Replace", "value": {"active": "False"}},
    ],
)
def test_disable_user_in_every_dialect(operation: dict[str, Any]) -> None:
    """Entra default ("Replace", "False"), aadOptscim062020 (false) and Okta's no-path deactivate
    (docs/scim-clients.md §3 row 1, §5 row 7)."""
    assert patch_user(operation)["active"] is False


def test_reactivation_with_a_true_string() -> None:
    """Entra re-sends active=true periodically (docs/scim-clients.md §2 row 10)."""
    resource = user()
    resource["active"] = False
    assert (
        patch_user({"op": "Replace", "path": "active", "value": "True"}, resource=resource)[
            "active"
        ]
        is True
    )


@pytest.mark.parametrize("op", ["Add", "add"])
def test_add_a_single_value_attribute_in_both_dialects(op: str) -> None:
    """docs/scim-clients.md §3 row 2."""
    assert patch_user({"op": op, "path": "nickName", "value": "Babs"})["nickName"] == "Babs"


def test_replace_several_attributes_one_operation_per_path() -> None:
    """Entra's default dialect (docs/scim-clients.md §2 row 8, §3 row 3)."""
    result = patch_user(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "babs@example.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
        {"op": "Replace", "path": "name.givenName", "value": "Babs"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "42"},
    )
    assert result["emails"][0] == {"value": "babs@example.com", "type": "work", "primary": True}
    assert result["name"]["familyName"] == "Jensen-Smith"
    assert result["name"]["givenName"] == "Babs"
    assert result[ENTERPRISE]["employeeNumber"] == "42"


def test_no_path_replace_with_dotted_and_urn_keys_expands_each_key_as_a_path() -> None:
    """aadOptscim062020: dotted and URN keys are paths; no literal "name.givenName" key is ever
    stored (docs/scim-clients.md §3 row 3, §4)."""
    result = patch_user(
        {
            "op": "replace",
            "value": {
                "displayName": "Babs",
                "name.givenName": "Barbie",
                f"{ENTERPRISE}:employeeNumber": "42",
                f"{ENTERPRISE}:manager": "m2",
            },
        }
    )
    assert result["displayName"] == "Babs"
    assert result["name"]["givenName"] == "Barbie"
    assert result["name"]["familyName"] == "Jensen"
    assert result[ENTERPRISE]["employeeNumber"] == "42"
    assert result[ENTERPRISE]["manager"]["value"] == "m2"
    assert "name.givenName" not in result
    assert f"{ENTERPRISE}:employeeNumber" not in result


def test_no_path_add_with_dotted_keys() -> None:
    """docs/scim-clients.md §4: `{"op":"add","value":{"title":"T1","name.familyName":"X"}}`."""
    result = patch_user({"op": "add", "value": {"title": "T1", "name.familyName": "X"}})
    assert result["title"] == "T1"
    assert result["name"]["familyName"] == "X"
    assert "name.familyName" not in result


def test_entra_default_member_removal_removes_only_the_listed_members() -> None:
    """Entra's non-standard remove with a value (docs/scim-clients.md §3 row 4): a strict
    server removes every member; idmesh removes only u1091."""
    result = patch_group({"op": "Remove", "path": "members", "value": [{"value": "u1091"}]})
    assert delta(result) == (None, [], ["u1091"])


def test_remove_with_value_on_a_loaded_member_list_removes_only_the_listed_members() -> None:
    """Same dialect, when the servicer works on the full member list instead of a delta."""
    result = apply_patch(
        GROUP_RESOURCE,
        group(with_members=True),
        patch({"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}),
    )
    assert [m["value"] for m in result.resource["members"]] == ["u1", "u2"]


def test_entra_flagged_member_removal_by_filter() -> None:
    """aadOptscim062020 (docs/scim-clients.md §3 row 4)."""
    result = patch_group({"op": "remove", "path": 'members[value eq "7f4b0b3c"]'})
    assert delta(result) == (None, [], ["7f4b0b3c"])


def test_entra_adds_many_members_in_one_patch_with_null_refs() -> None:
    """docs/scim-clients.md §2 row 12: `[{"$ref":null,"value":"<id>"}]`, many at once."""
    ids = [f"u{i}" for i in range(500)]
    result = patch_group(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]}
    )
    assert delta(result) == (None, ids, [])


def test_bare_string_manager_is_stored_as_its_value() -> None:
    """Entra's `{"op":"Add","path":"urn:…:manager","value":"<id>"}` (docs/scim-clients.md
    §2 row 9): manager.value = <id>."""
    resource = user()
    del resource[ENTERPRISE]["manager"]
    result = patch_user(
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "m9"}, resource=resource
    )
    assert result[ENTERPRISE]["manager"] == {"value": "m9"}


def test_replacing_the_manager_with_an_object_keeps_working() -> None:
    """The RFC form {"value": id} still works; read-only displayName and $ref are dropped."""
    result = patch_user(
        {
            "op": "replace",
            "path": f"{ENTERPRISE}:manager",
            "value": {"value": "m2", "displayName": "x"},
        }
    )
    assert result[ENTERPRISE]["manager"]["value"] == "m2"


def test_clearing_the_manager_with_an_empty_string_removes_it() -> None:
    result = patch_user({"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""})
    assert "manager" not in result[ENTERPRISE]


def test_add_on_a_value_path_that_matches_nothing_creates_the_value() -> None:
    """Entra adds `phoneNumbers[type eq "mobile"].value` / `addresses[type eq "work"]…` for values
    the user did not have (docs/scim-clients.md §2 row 8)."""
    result = patch_user(
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0100"}
    )
    assert result["phoneNumbers"] == [{"type": "mobile", "value": "+1 555 0100"}]


def test_replace_on_a_value_path_that_matches_nothing_creates_the_value() -> None:
    """Entra's view of the user may be behind ours; its Replace must not fail with noTarget."""
    resource = user()
    del resource["emails"]
    result = patch_user(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"},
        resource=resource,
    )
    assert result["emails"] == [{"type": "work", "value": "new@example.com"}]


def test_value_filters_compare_case_insensitively_where_the_schema_says_so() -> None:
    """RFC 7643 §2.4: type is caseExact=false, so "WORK" selects "work"."""
    result = patch_user({"op": "replace", "path": 'emails[type eq "WORK"].display', "value": "W"})
    assert result["emails"][0]["display"] == "W"


def test_extra_schema_uris_in_a_patch_are_ignored() -> None:
    """Unknown extra URIs in `schemas` are ignored (issue; Entra's ADSCIM URI)."""
    body = patch(
        {"op": "replace", "path": "title", "value": "T"},
        schemas=[
            PATCH_OP_SCHEMA,
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
        ],
    )
    assert apply_patch(USER_RESOURCE, user(), body).resource["title"] == "T"


def test_a_patch_without_schemas_is_still_served() -> None:
    body = {"Operations": [{"op": "replace", "path": "title", "value": "T"}]}
    assert apply_patch(USER_RESOURCE, user(), body).resource["title"] == "T"


def test_meta_sent_back_is_ignored() -> None:
    """Entra sends meta (docs/scim-clients.md §4): read-only, ignored."""
    result = patch_user(
        {"op": "replace", "value": {"meta": {"resourceType": "User"}, "title": "T"}}
    )
    assert result["meta"] == META
    assert result["title"] == "T"


def test_boolean_strings_are_converted_for_boolean_attributes_only() -> None:
    """docs/scim-clients.md §4: "True"/"False" (any case) for boolean attributes only."""
    result = patch_user(
        {"op": "replace", "path": "title", "value": "False"},
        {"op": "replace", "path": 'emails[type eq "home"].primary', "value": "TRUE"},
    )
    assert result["title"] == "False"
    assert result["emails"][1]["primary"] is True
    assert "primary" not in result["emails"][0]


# ---------------------------------------------------------------------------------------------
# Okta (docs/scim-clients.md §5)


def test_okta_rename_with_the_groups_own_id_is_accepted() -> None:
    """Okta's rename carries {id, displayName}: id equal to the resource id is ignored."""
    result = patch_group({"op": "replace", "value": {"id": "g1", "displayName": "Tour Leaders"}})
    assert result.resource["displayName"] == "Tour Leaders"
    assert result.resource["id"] == "g1"
    assert result.members is None


def test_a_different_id_is_a_mutability_error() -> None:
    """RFC 7644 §3.5.2: read-only attributes cannot be changed."""
    message = refused(
        "mutability",
        {"op": "replace", "value": {"id": "other", "displayName": "X"}},
        resource_type=GROUP_RESOURCE,
    )
    assert "'id' is read-only" in message
    refused("mutability", {"op": "remove", "path": "id"})


def test_okta_rename_with_membership_update_in_one_patch() -> None:
    """Okta re-sends the rename with every membership update (docs/scim-clients.md §4)."""
    result = patch_group(
        {"op": "replace", "value": {"id": "g1", "displayName": "Tour Guides"}},
        {"op": "remove", "path": 'members[value eq "u1"]'},
        {"op": "add", "path": "members", "value": [{"value": "u3"}]},
    )
    assert result.resource["displayName"] == "Tour Guides"
    assert delta(result) == (None, ["u3"], ["u1"])


def test_removing_and_re_adding_a_member_ends_with_the_member() -> None:
    """Operations apply in order (RFC 7644 §3.5.2): the last word on an id wins."""
    result = patch_group(
        {"op": "remove", "path": 'members[value eq "u1"]'},
        {"op": "add", "path": "members", "value": [{"value": "u1"}]},
    )
    assert delta(result) == (None, ["u1"], [])
    result = patch_group(
        {"op": "add", "path": "members", "value": [{"value": "u1"}]},
        {"op": "remove", "path": 'members[value eq "u1"]'},
    )
    assert delta(result) == (None, [], ["u1"])


def test_members_after_a_replace_are_an_exact_list() -> None:
    result = patch_group(
        {"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
        {"op": "add", "path": "members", "value": [{"value": "c"}]},
        {"op": "remove", "path": 'members[value eq "a"]'},
    )
    assert delta(result) == (["b", "c"], [], [])


def test_replace_members_with_null_clears_them() -> None:
    """Okta accepts `members: null` (docs/scim-clients.md §5 row 10)."""
    assert delta(patch_group({"op": "replace", "path": "members", "value": None})) == ([], [], [])


def test_removing_members_selected_by_several_ids() -> None:
    result = patch_group({"op": "remove", "path": 'members[value eq "a" or value eq "b"]'})
    assert delta(result) == (None, [], ["a", "b"])


def test_members_selected_by_anything_but_their_id_are_refused() -> None:
    """The member list is not loaded; a filter it would need is refused, not guessed."""
    refused(
        "invalid_filter",
        {"op": "remove", "path": 'members[display eq "Babs"]'},
        resource_type=GROUP_RESOURCE,
    )


def test_nested_groups_are_refused_with_a_clear_error() -> None:
    """Issue: nested groups refused with a clear 400 (Entra does not provision them either)."""
    message = refused(
        "invalid_value",
        {"op": "add", "path": "members", "value": [{"value": "g2", "type": "Group"}]},
        resource_type=GROUP_RESOURCE,
    )
    assert "nested groups are not supported" in message


def test_a_member_without_a_value_is_refused() -> None:
    refused(
        "invalid_value",
        {"op": "add", "path": "members", "value": [{"display": "nobody"}]},
        resource_type=GROUP_RESOURCE,
    )


def test_member_sub_attributes_cannot_be_patched() -> None:
    refused(
        "mutability",
        {"op": "replace", "path": 'members[value eq "u1"].display', "value": "x"},
        resource_type=GROUP_RESOURCE,
    )
    refused(
        "mutability",
        {"op": "replace", "path": 'members[value eq "u1"]', "value": {"value": "u2"}},
        resource_type=GROUP_RESOURCE,
    )


def test_okta_password_sync_is_accepted_and_dropped() -> None:
    """Okta sends password (docs/scim-clients.md §4): never stored or echoed."""
    result = patch_user({"op": "replace", "value": {"password": "hunter2"}})
    assert "password" not in result
    assert result == user()


# ---------------------------------------------------------------------------------------------
# Extensions, primaries, structure


def test_patching_the_whole_enterprise_extension_merges_it() -> None:
    """A path (or no-path key) naming the extension URN addresses its attributes."""
    result = patch_user({"op": "replace", "path": ENTERPRISE, "value": {"department": "Sales"}})
    assert result[ENTERPRISE]["department"] == "Sales"
    assert result[ENTERPRISE]["employeeNumber"] == "701984"
    result = patch_user({"op": "replace", "value": {ENTERPRISE: {"department": "Sales"}}})
    assert result[ENTERPRISE]["department"] == "Sales"
    assert result[ENTERPRISE]["employeeNumber"] == "701984"
    assert ENTERPRISE not in patch_user({"op": "remove", "path": ENTERPRISE})


def test_extension_attributes_are_found_without_their_urn_too() -> None:
    result = patch_user({"op": "replace", "path": "employeeNumber", "value": "7"})
    assert result[ENTERPRISE]["employeeNumber"] == "7"


def test_setting_a_new_primary_clears_the_old_one() -> None:
    """RFC 7643 §2.4 / RFC 7644 §3.5.2: at most one primary value."""
    result = patch_user(
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "new@x.org", "type": "work", "primary": True}],
        }
    )
    assert [e.get("primary") for e in result["emails"]] == [None, None, True]


def test_attribute_names_in_paths_are_case_insensitive() -> None:
    """RFC 7643 §2.1: attribute names are case-insensitive; stored under canonical names."""
    result = patch_user(
        {"op": "replace", "path": "NAME.GIVENNAME", "value": "B"},
        {
            "op": "replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:DEPARTMENT",
            "value": "D",
        },
    )
    assert result["name"]["givenName"] == "B"
    assert result[ENTERPRISE]["department"] == "D"


def test_roles_add_appends_the_new_role() -> None:
    """Entra adds app roles with add (the newest wins in policy.requested_role)."""
    result = patch_user({"op": "add", "path": "roles", "value": [{"value": "Account Admin"}]})
    assert result["roles"] == [{"value": "Account Member"}, {"value": "Account Admin"}]


def test_a_generic_remove_with_value_removes_the_listed_values() -> None:
    """Entra's remove-with-value, generalised to every multi-valued attribute."""
    result = patch_user({"op": "remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]})
    assert result["emails"] == [user()["emails"][0]]


def test_patch_does_not_modify_its_input() -> None:
    resource = user()
    before = copy.deepcopy(resource)
    patch_user(
        {"op": "remove", "path": "emails"},
        {"op": "replace", "path": "name.givenName", "value": "x"},
        resource=resource,
    )
    assert resource == before


def test_a_failing_operation_fails_the_whole_patch() -> None:
    """RFC 7644 §3.5.2: operations are atomic; one failure and nothing applies."""
    refused(
        "mutability",
        {"op": "replace", "path": "title", "value": "T"},
        {"op": "remove", "path": "userName"},
    )


@pytest.mark.parametrize(
    ("reason", "operation"),
    [
        ("invalid_syntax", {"op": "move", "path": "title", "value": "x"}),
        ("invalid_syntax", {"path": "title", "value": "x"}),
        ("invalid_syntax", {"op": "add", "path": 42, "value": "x"}),
        ("invalid_syntax", {"op": "add", "path": "title"}),
        ("invalid_syntax", {"op": "add", "value": "not an object"}),
        ("invalid_syntax", {"op": "add", "value": {"nosuch": 1}}),
        ("invalid_path", {"op": "add", "path": "nosuch", "value": "x"}),
        ("invalid_path", {"op": "add", "path": "name.nosuch", "value": "x"}),
        ("invalid_path", {"op": "add", "path": "urn:x:unknown:nosuch", "value": "x"}),
        ("invalid_path", {"op": "add", "path": 'title[value eq "x"]', "value": "x"}),
        ("invalid_path", {"op": "add", "path": 'emails[type eq "work"].nosuch', "value": "x"}),
        ("invalid_path", {"op": "add", "path": 'emails[type eq "work"]value', "value": "x"}),
        ("invalid_syntax", {"op": "add", "path": "  ", "value": "x"}),
        ("invalid_path", {"op": "add", "path": "bad path!", "value": "x"}),
        ("invalid_filter", {"op": "add", "path": 'emails[nosuch eq "work"].value', "value": "x"}),
        ("invalid_filter", {"op": "add", "path": 'emails[type eq "work"', "value": "x"}),
        ("invalid_filter", {"op": "add", "path": "emails[type eq]", "value": "x"}),
        ("invalid_value", {"op": "replace", "path": "active", "value": "maybe"}),
        ("invalid_value", {"op": "replace", "path": "active", "value": 1}),
        ("invalid_value", {"op": "replace", "path": "title", "value": 42}),
        ("invalid_value", {"op": "replace", "path": "title", "value": ["a"]}),
        ("invalid_value", {"op": "replace", "path": "name", "value": 42}),
        ("invalid_value", {"op": "replace", "path": "title", "value": "a\u0000b"}),
        ("invalid_syntax", {"op": "replace", "path": "name", "value": {"nosuch": "x"}}),
        ("mutability", {"op": "add", "path": "groups", "value": [{"value": "g1"}]}),
        ("mutability", {"op": "replace", "path": "id", "value": "x"}),
    ],
)
def test_malformed_operations_are_refused_with_the_rfc_scim_type(
    reason: str, operation: dict[str, Any]
) -> None:
    """RFC 7644 §3.12: invalidSyntax, invalidPath, invalidFilter, invalidValue, mutability."""
    refused(reason, operation)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "x",
        {"Operations": []},
        {"Operations": "x"},
        {"schemas": "x", "Operations": [{}]},
        {},
    ],
)
def test_malformed_patch_bodies_are_invalid_syntax(body: Any) -> None:
    with pytest.raises(InvalidArgument) as caught:
        apply_patch(USER_RESOURCE, user(), body)
    assert caught.value.reason == "invalid_syntax"


def test_membership_change_reports_ids_in_order() -> None:
    change = MembershipChange()
    change.add_member("b")
    change.add_member("a")
    change.remove_member("c")
    assert (change.members, change.added, change.removed) == (None, ["b", "a"], ["c"])
