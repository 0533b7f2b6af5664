"""The SCIM schemas idmesh serves, as data: the one source of truth for /Schemas, filter attribute
resolution, caseExact decisions, PATCH path validation, input checking and projection.

Definitions follow RFC 7643 §4.1 (User), §4.2 (Group), §4.3 (Enterprise User) and their schema
representations in §8.7.1, restricted to what the directory stores, so that /Schemas tells the
truth. Each attribute also names its directory attribute (``directory``) when the directory can
filter or sort on it; the directory's filterable sets are copied from directory.proto.

The common attributes ``id``, ``externalId`` and ``meta`` (RFC 7643 §3.1) are resolvable like any
other attribute but are not listed in /Schemas, as in the RFC's own schema representations.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SERVICE_PROVIDER_CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

# Attribute types (RFC 7643 §2.3).
STRING = "string"
BOOLEAN = "boolean"
DECIMAL = "decimal"
INTEGER = "integer"
DATETIME = "dateTime"
BINARY = "binary"
REFERENCE = "reference"
COMPLEX = "complex"

# The IANA time zone names this host knows: the only values ``timezone`` accepts (RFC 7643
# §4.1.1; the directory refuses any other), listed as its canonicalValues so that a client can
# tell, and a generating client such as scim2-tester picks, a valid one.
IANA_TIME_ZONES: tuple[str, ...] = tuple(sorted(zoneinfo.available_timezones()))

# Mutability and returned characteristics (RFC 7643 §7).
READ_ONLY = "readOnly"
READ_WRITE = "readWrite"
IMMUTABLE = "immutable"
WRITE_ONLY = "writeOnly"
ALWAYS = "always"
NEVER = "never"
DEFAULT = "default"
REQUEST = "request"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute definition (RFC 7643 §7). ``directory`` is the full directory attribute name
    used in filters and sorting (e.g. "name.given_name"); None when the directory cannot filter
    on it."""

    name: str
    type: str = STRING
    description: str = ""
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = READ_WRITE
    returned: str = DEFAULT
    uniqueness: str = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    directory: str | None = None
    # RFC 7643 §3.1 common attributes (id, externalId, meta): resolvable, not listed in /Schemas.
    common: bool = False
    # False for a sub-attribute accepted in input (and dropped) but neither listed nor returned.
    listed: bool = True
    # The valid values are the account's role names: /Schemas lists them as canonicalValues
    # for each account (discovery.py), since any other value is refused (policy.py).
    account_roles: bool = False
    _subs: dict[str, Attribute] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Attribute names are case-insensitive (RFC 7643 §2.1): look-ups go through lower case.
        for sub in self.sub_attributes:
            self._subs[sub.name.lower()] = sub

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute called ``name`` (any case), or None."""
        return self._subs.get(name.lower())

    @property
    def is_complex(self) -> bool:
        return self.type == COMPLEX

    @property
    def read_only(self) -> bool:
        return self.mutability == READ_ONLY


@dataclass(frozen=True, slots=True)
class Schema:
    """A schema (RFC 7643 §7): its URN id, name and attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _by_name: dict[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for attribute in self.attributes:
            self._by_name[attribute.name.lower()] = attribute

    def attribute(self, name: str) -> Attribute | None:
        """The top-level attribute called ``name`` (any case), or None."""
        return self._by_name.get(name.lower())


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A resource type (RFC 7643 §6): its core schema, its extensions, and which directory
    attributes the directory's list RPC accepts in filters and sorting."""

    id: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[Schema, ...]
    common: tuple[Attribute, ...]
    filterable: frozenset[str]
    # Multi-valued directory attributes that accept a ValuePathFilter (directory.proto).
    value_path_capable: frozenset[str]
    _common: dict[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _extensions: dict[str, Schema] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for attribute in self.common:
            self._common[attribute.name.lower()] = attribute
        for extension in self.extensions:
            self._extensions[extension.id.lower()] = extension

    @property
    def schemas(self) -> tuple[Schema, ...]:
        return (self.schema, *self.extensions)

    def extension(self, urn: str) -> Schema | None:
        """The extension schema with this URN (any case), or None."""
        return self._extensions.get(urn.lower())

    def schema_by_urn(self, urn: str) -> Schema | None:
        """The core schema or an extension by URN (any case)."""
        if urn.lower() == self.schema.id.lower():
            return self.schema
        return self.extension(urn)

    def common_attribute(self, name: str) -> Attribute | None:
        return self._common.get(name.lower())

    def find(self, name: str) -> tuple[Schema, Attribute] | None:
        """An unqualified top-level attribute: a common attribute, then the core schema, then the
        extensions (RFC 7644 §3.10 lets clients omit the URN of the core schema; extension
        attributes are accepted unqualified too when their name is unambiguous)."""
        common = self.common_attribute(name)
        if common is not None:
            return self.schema, common
        found = self.schema.attribute(name)
        if found is not None:
            return self.schema, found
        for extension in self.extensions:
            found = extension.attribute(name)
            if found is not None:
                return extension, found
        return None

    def sortable(self, attribute: Attribute) -> bool:
        return (
            attribute.directory is not None
            and not attribute.multi_valued
            and not attribute.is_complex
            and attribute.directory in self.filterable
        )


def _multi(
    name: str,
    description: str,
    *,
    directory: str | None = None,
    value_type: str = STRING,
    value_directory: str | None = None,
    type_directory: str | None = None,
    canonical_types: tuple[str, ...] = (),
    with_display: bool = True,
) -> Attribute:
    """The usual multi-valued complex attribute: value, display, type, primary (RFC 7643 §2.4)."""
    subs = [
        Attribute("value", value_type, f"The {name} value.", directory=value_directory),
    ]
    if with_display:
        subs.append(Attribute("display", description="A human-readable name."))
    subs += [
        Attribute(
            "type",
            description="A label indicating the attribute's function.",
            canonical_values=canonical_types,
            directory=type_directory,
        ),
        Attribute("primary", BOOLEAN, "Whether this is the primary value."),
    ]
    return Attribute(
        name,
        COMPLEX,
        description,
        multi_valued=True,
        sub_attributes=tuple(subs),
        directory=directory,
    )


_ID = Attribute(
    "id",
    description="Unique identifier of the resource, assigned by the service provider.",
    case_exact=True,
    mutability=READ_ONLY,
    returned=ALWAYS,
    uniqueness="server",
    directory="id",
    common=True,
)
_META_SUBS = (
    Attribute("resourceType", description="The resource type.", mutability=READ_ONLY),
    Attribute("created", DATETIME, "When the resource was created.", mutability=READ_ONLY),
    Attribute(
        "lastModified", DATETIME, "When the resource was last modified.", mutability=READ_ONLY
    ),
    Attribute(
        "location",
        REFERENCE,
        "The URI of the resource.",
        case_exact=True,
        mutability=READ_ONLY,
        reference_types=("uri",),
    ),
    Attribute("version", description="The version (ETag).", case_exact=True, mutability=READ_ONLY),
)


def _meta(created: str | None, last_modified: str | None) -> Attribute:
    subs = tuple(
        Attribute(
            sub.name,
            sub.type,
            sub.description,
            case_exact=sub.case_exact,
            mutability=sub.mutability,
            reference_types=sub.reference_types,
            directory={"created": created, "lastModified": last_modified}.get(sub.name),
        )
        for sub in _META_SUBS
    )
    return Attribute(
        "meta",
        COMPLEX,
        "Resource metadata.",
        mutability=READ_ONLY,
        sub_attributes=subs,
        common=True,
    )


_ADDRESS_SUBS = (
    Attribute("formatted", description="The full mailing address."),
    Attribute("streetAddress", description="The full street address component."),
    Attribute("locality", description="The city or locality component."),
    Attribute("region", description="The state or region component."),
    Attribute("postalCode", description="The zip code or postal code component."),
    Attribute("country", description="The country name component (ISO 3166-1 alpha-2)."),
    Attribute(
        "type",
        description="A label indicating the attribute's function.",
        canonical_values=("work", "home", "other"),
    ),
    Attribute("primary", BOOLEAN, "Whether this is the primary address."),
)

USER = Schema(
    USER_SCHEMA,
    "User",
    "User Account",
    (
        Attribute(
            "userName",
            description="Unique identifier for the User, an email in practice.",
            required=True,
            uniqueness="server",
            directory="user_name",
        ),
        Attribute(
            "name",
            COMPLEX,
            "The components of the user's real name.",
            sub_attributes=(
                Attribute("formatted", description="The full name.", directory="name.formatted"),
                Attribute(
                    "familyName", description="The family name.", directory="name.family_name"
                ),
                Attribute("givenName", description="The given name.", directory="name.given_name"),
                Attribute("middleName", description="The middle name(s)."),
                Attribute("honorificPrefix", description="The honorific prefix(es)."),
                Attribute("honorificSuffix", description="The honorific suffix(es)."),
            ),
        ),
        Attribute(
            "displayName",
            description="The name of the User, suitable for display.",
            directory="display_name",
        ),
        Attribute(
            "nickName", description="The casual way to address the user.", directory="nick_name"
        ),
        Attribute(
            "profileUrl",
            REFERENCE,
            "A URI pointing to the user's online profile.",
            reference_types=("external",),
        ),
        Attribute("title", description="The user's title.", directory="title"),
        Attribute(
            "userType",
            description="The user's type; when no roles are given it selects the account role "
            "by its exact name.",
            directory="user_type",
            account_roles=True,
        ),
        Attribute(
            "preferredLanguage",
            description="The user's preferred written or spoken language.",
            directory="preferred_language",
        ),
        Attribute("locale", description="The user's default location.", directory="locale"),
        Attribute(
            "timezone",
            description="The user's time zone, an IANA name such as Europe/Berlin.",
            canonical_values=IANA_TIME_ZONES,
            directory="timezone",
        ),
        Attribute(
            "active",
            BOOLEAN,
            "Whether the user may sign in; false deactivates the user.",
            directory="active",
        ),
        Attribute(
            "password",
            description="Accepted and discarded: idmesh users sign in through their IdP.",
            case_exact=True,
            mutability=WRITE_ONLY,
            returned=NEVER,
        ),
        _multi(
            "emails",
            "Email addresses for the user.",
            directory="emails",
            value_directory="emails.value",
            type_directory="emails.type",
            canonical_types=("work", "home", "other"),
        ),
        _multi(
            "phoneNumbers",
            "Phone numbers for the user.",
            directory="phone_numbers",
            value_directory="phone_numbers.value",
            canonical_types=("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi(
            "ims",
            "Instant messaging addresses for the user.",
            canonical_types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi(
            "photos",
            "URLs of photos of the user.",
            value_type=REFERENCE,
            canonical_types=("photo", "thumbnail"),
        ),
        Attribute(
            "addresses",
            COMPLEX,
            "Physical mailing addresses for the user.",
            multi_valued=True,
            sub_attributes=_ADDRESS_SUBS,
        ),
        Attribute(
            "groups",
            COMPLEX,
            "The groups the user belongs to; managed through the Group resource.",
            multi_valued=True,
            mutability=READ_ONLY,
            returned=REQUEST,
            sub_attributes=(
                Attribute("value", description="The id of the group.", mutability=READ_ONLY),
                Attribute(
                    "$ref",
                    REFERENCE,
                    "The URI of the group.",
                    mutability=READ_ONLY,
                    reference_types=("Group",),
                ),
                Attribute("display", description="The group's displayName.", mutability=READ_ONLY),
                Attribute(
                    "type",
                    description="How the membership was derived.",
                    mutability=READ_ONLY,
                    canonical_values=("direct", "indirect"),
                ),
            ),
        ),
        _multi("entitlements", "Entitlements of the user."),
        Attribute(
            "roles",
            COMPLEX,
            "The user's account role, named exactly; an empty list on creation, or removing "
            "roles, gives the account's default role.",
            multi_valued=True,
            sub_attributes=(
                Attribute("value", description="The name of an account role.", account_roles=True),
                # Entra sends app role assignments as {value, display, type, primary}; only the
                # role is stored, so these are accepted (primary picks among several values)
                # but neither listed nor returned: /Schemas must not promise what is not kept.
                Attribute("display", listed=False),
                Attribute("type", listed=False),
                Attribute("primary", BOOLEAN, listed=False),
            ),
        ),
        _multi("x509Certificates", "Certificates of the user.", value_type=BINARY),
    ),
)

ENTERPRISE_USER = Schema(
    ENTERPRISE_USER_SCHEMA,
    "EnterpriseUser",
    "Enterprise User",
    (
        Attribute(
            "employeeNumber",
            description="Numeric or alphanumeric identifier assigned to a person.",
            directory="enterprise.employee_number",
        ),
        Attribute("costCenter", description="Identifies the name of a cost center."),
        Attribute(
            "organization",
            description="Identifies the name of an organization.",
            directory="enterprise.organization",
        ),
        Attribute("division", description="Identifies the name of a division."),
        Attribute(
            "department",
            description="Identifies the name of a department.",
            directory="enterprise.department",
        ),
        Attribute(
            "manager",
            COMPLEX,
            "The user's manager, a user of the same account.",
            sub_attributes=(
                Attribute(
                    "value",
                    description="The id of the manager's User resource.",
                    required=True,
                    case_exact=True,
                    directory="enterprise.manager_id",
                ),
                Attribute(
                    "$ref",
                    REFERENCE,
                    "The URI of the manager's User resource.",
                    reference_types=("User",),
                ),
                Attribute(
                    "displayName",
                    description="The displayName of the manager.",
                    mutability=READ_ONLY,
                ),
            ),
        ),
    ),
)

GROUP = Schema(
    GROUP_SCHEMA,
    "Group",
    "Group",
    (
        Attribute(
            "displayName",
            description="A human-readable name for the Group.",
            required=True,
            directory="display_name",
        ),
        Attribute(
            "members",
            COMPLEX,
            "The users of the group. Groups as members (nested groups) are not supported.",
            multi_valued=True,
            directory="members",
            sub_attributes=(
                Attribute(
                    "value",
                    description="The id of the member User.",
                    case_exact=True,
                    mutability=IMMUTABLE,
                    directory="members.user_id",
                ),
                Attribute(
                    "$ref",
                    REFERENCE,
                    "The URI of the member User.",
                    mutability=IMMUTABLE,
                    reference_types=("User",),
                ),
                Attribute(
                    "type",
                    description="The type of the member; only User is supported.",
                    mutability=IMMUTABLE,
                    canonical_values=("User",),
                ),
                # Not in RFC 7643 §8.7.1's members, yet in its examples and in what Okta sends:
                # accepted and ignored, never returned (a client compares members as it sent them).
                Attribute(
                    "display",
                    description="Ignored.",
                    mutability=READ_ONLY,
                    returned=NEVER,
                    listed=False,
                ),
            ),
        ),
    ),
)

_EXTERNAL_ID_DESCRIPTION = "An identifier for the resource as defined by the provisioning client."

USER_RESOURCE = ResourceType(
    id="User",
    endpoint="/Users",
    description="User Account",
    schema=USER,
    extensions=(ENTERPRISE_USER,),
    common=(
        _ID,
        Attribute(
            "externalId",
            description=_EXTERNAL_ID_DESCRIPTION,
            case_exact=True,
            directory="external_id",
            common=True,
        ),
        _meta("create_time", "update_time"),
    ),
    # directory.proto, ListUsersRequest.
    filterable=frozenset(
        {
            "id",
            "user_name",
            "external_id",
            "display_name",
            "nick_name",
            "title",
            "user_type",
            "locale",
            "preferred_language",
            "timezone",
            "active",
            "status",
            "name.given_name",
            "name.family_name",
            "name.formatted",
            "emails",
            "emails.value",
            "emails.type",
            "phone_numbers.value",
            "enterprise.employee_number",
            "enterprise.department",
            "enterprise.organization",
            "enterprise.manager_id",
            "account_role_id",
            "create_time",
            "update_time",
        }
    ),
    value_path_capable=frozenset({"emails"}),
)

GROUP_RESOURCE = ResourceType(
    id="Group",
    endpoint="/Groups",
    description="Group",
    schema=GROUP,
    extensions=(),
    common=(
        _ID,
        Attribute(
            "externalId",
            description=_EXTERNAL_ID_DESCRIPTION + " Stored as the group's IdP identifier.",
            case_exact=True,
            directory="idp_identifier",
            common=True,
        ),
        _meta(None, None),
    ),
    # directory.proto, ListGroupsRequest.
    filterable=frozenset({"id", "display_name", "idp_identifier", "members.user_id"}),
    value_path_capable=frozenset(),
)

RESOURCE_TYPES: tuple[ResourceType, ...] = (USER_RESOURCE, GROUP_RESOURCE)
SCHEMAS: tuple[Schema, ...] = (USER, GROUP, ENTERPRISE_USER)


def schema_by_id(urn: str) -> Schema | None:
    """A served schema by URN (any case)."""
    lowered = urn.lower()
    for schema in SCHEMAS:
        if schema.id.lower() == lowered:
            return schema
    return None


def iter_attributes(resource_type: ResourceType) -> Iterator[tuple[Schema, Attribute]]:
    """Every top-level attribute of the resource type, common ones first."""
    for attribute in resource_type.common:
        yield resource_type.schema, attribute
    for schema in resource_type.schemas:
        for attribute in schema.attributes:
            yield schema, attribute


# ---------------------------------------------------------------------------------------------
# Attribute paths (RFC 7644 §3.10): [URN ":"] attrName ["." subAttr]


@dataclass(frozen=True, slots=True)
class AttrPath:
    """An attribute path as written by the client; ``uri`` is the schema URN prefix, if any."""

    uri: str | None
    name: str
    sub: str | None = None

    def __str__(self) -> str:
        text = f"{self.uri}:{self.name}" if self.uri else self.name
        return f"{text}.{self.sub}" if self.sub else text


@dataclass(frozen=True, slots=True)
class Resolved:
    """An attribute path resolved against a resource type.

    ``attribute`` is None when the path names a whole extension (its URN alone); ``container``
    is the key of the extension object in the resource (None for core and common attributes).
    """

    schema: Schema
    attribute: Attribute | None
    sub: Attribute | None
    container: str | None

    @property
    def target(self) -> Attribute | None:
        """The innermost attribute the path names."""
        return self.sub if self.sub is not None else self.attribute

    @property
    def display(self) -> str:
        """The canonical spelling, for messages."""
        if self.attribute is None:
            return self.schema.id
        text = self.attribute.name if self.sub is None else f"{self.attribute.name}.{self.sub.name}"
        return f"{self.container}:{text}" if self.container else text


def split_path(text: str) -> AttrPath | None:
    """Splits "urn:…:User:name.givenName" / "name.givenName" / "emails" into an AttrPath, or
    None when it is not a well-formed attribute path (RFC 7644 §3.10)."""
    uri: str | None = None
    rest = text
    if text[:4].lower() == "urn:":
        uri, sep, rest = text.rpartition(":")
        if not sep or not rest:
            return None
        # "urn:…:2.0:User" alone: a whole extension, or an URN whose last segment looks like
        # a name. The caller decides (resolve tries the whole text as a schema URN first).
    name, _, sub = rest.partition(".")
    if not _is_attr_name(name) or (sub and not _is_attr_name(sub)):
        return None
    if "." in sub:
        return None
    return AttrPath(uri, name, sub or None)


def _is_attr_name(text: str) -> bool:
    # ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA (RFC 7643 §2.1); "$ref"
    # is the one reserved name starting otherwise (RFC 7643 §2.4).
    if text == "$ref" or text.lower() == "$ref":
        return True
    if not text or not (text[0].isascii() and text[0].isalpha()):
        return False
    return all(c.isascii() and (c.isalnum() or c in "-_") for c in text)


def resolve(resource_type: ResourceType, path: AttrPath) -> Resolved | None:
    """Resolves ``path`` (any case, URN prefix optional) to its schema and attributes, or None
    when no such attribute exists. A sub-attribute on a simple attribute is None too."""
    if path.uri is not None:
        schema = resource_type.schema_by_urn(path.uri)
        if schema is None:
            return None
        attribute = (
            resource_type.common_attribute(path.name) if schema is resource_type.schema else None
        ) or schema.attribute(path.name)
        if attribute is None:
            return None
    else:
        found = resource_type.find(path.name)
        if found is None:
            return None
        schema, attribute = found
    container = None if schema is resource_type.schema else schema.id
    if path.sub is None:
        return Resolved(schema, attribute, None, container)
    sub = attribute.sub(path.sub)
    if sub is None:
        return None
    return Resolved(schema, attribute, sub, container)


def resolve_text(resource_type: ResourceType, text: str) -> Resolved | None:
    """Resolves a textual attribute path, including a bare extension URN (the whole extension)."""
    extension = resource_type.extension(text)
    if extension is not None:
        return Resolved(extension, None, None, extension.id)
    path = split_path(text)
    if path is None:
        return None
    return resolve(resource_type, path)
