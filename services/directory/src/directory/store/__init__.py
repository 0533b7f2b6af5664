"""All SQL of the directory, on asyncpg: one store per aggregate, all on one pool.

Every query names its columns, is scoped by account_id (tenant isolation), and is a constant
string where it can be, so asyncpg's per-connection statement cache prepares it once. Stores
return asyncpg records; convert.py turns them into protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass

from directory.store.access import AccessStore
from directory.store.accounts import AccountStore
from directory.store.audit import AuditStore
from directory.store.base import Pool
from directory.store.domains import DomainStore
from directory.store.events import EventStore

__all__ = ["Pool", "Stores"]
from directory.store.groups import GroupStore
from directory.store.logins import LoginStore
from directory.store.provisioning import ProvisioningStore
from directory.store.roles import RoleStore
from directory.store.spaces import SpaceStore
from directory.store.users import UserStore
from directory.store.webhooks import WebhookStore
from meshkit.secretbox import SecretBox


@dataclass(frozen=True)
class Stores:
    accounts: AccountStore
    users: UserStore
    spaces: SpaceStore
    roles: RoleStore
    groups: GroupStore
    audit: AuditStore
    access: AccessStore
    provisioning: ProvisioningStore
    logins: LoginStore
    domains: DomainStore
    events: EventStore
    webhooks: WebhookStore

    @classmethod
    def on(cls, pool: Pool, secretbox: SecretBox) -> Stores:
        """The stores on ``pool``; ``secretbox`` seals the secrets they keep (webhooks)."""
        return cls(
            accounts=AccountStore(pool),
            users=UserStore(pool),
            spaces=SpaceStore(pool),
            roles=RoleStore(pool),
            groups=GroupStore(pool),
            audit=AuditStore(pool),
            access=AccessStore(pool),
            provisioning=ProvisioningStore(pool),
            logins=LoginStore(pool),
            domains=DomainStore(pool),
            events=EventStore(pool),
            webhooks=WebhookStore(pool, secretbox),
        )
