-- grants:manage (granting and revoking space roles, what a governance tool needs without the
-- right to manage spaces) joined the built-in Account Admin role; accounts made before it get
-- it too, so their admins keep every permission of the role. Sorted, as the role is created.
UPDATE roles
SET permissions = ARRAY(SELECT DISTINCT p FROM unnest(permissions || '{grants:manage}') AS p ORDER BY p),
    version = version + 1,
    update_time = now()
WHERE built_in AND scope = 'account' AND name = 'Account Admin'
  AND NOT ('grants:manage' = ANY (permissions));
