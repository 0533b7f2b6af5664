"""The deliverer's SQL: claim an endpoint with work, read its next event, record the outcome.

An endpoint is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` inside the transaction that
delivers to it, and its row stays locked until the outcome is committed: any number of
deliverer replicas share the endpoints, and one endpoint has at most one delivery in flight. A
deliverer that dies mid-delivery rolls back with its connection, and the event is delivered
again (the receiver sees the same ``webhook-id`` twice, which Standard Webhooks tells it to
deduplicate).
"""

from __future__ import annotations

ENDPOINT_COLUMNS = (
    "w.account_id, w.id, w.url, w.types, w.secret_sealed, w.secret_key_id,"
    " w.previous_secret_sealed, w.previous_secret_key_id, w.previous_secret_expire_time,"
    " w.delivered_seq, w.failing_since, w.attempts"
)
EVENT_COLUMNS = (
    "e.account_id, e.seq, e.id, e.type, e.version, e.time, e.actor_type, e.actor_id,"
    " e.actor_display_name, e.channel, e.target_type, e.target_id, e.resource"
)

# The endpoint and, in the same round trip, its next event of a wanted type (NULL when none up
# to the last event: nothing to deliver up to there). ``event`` is a row of directory.events.
# An endpoint whose secret is not sealed yet (written by a release before migration 0007) waits
# for directory.webhooks.secrets to seal it: the deliverer never reads a plaintext secret.
CLAIM = f"""
SELECT {ENDPOINT_COLUMNS}, c.last_seq,
    (SELECT e FROM directory.events e
     WHERE e.account_id = w.account_id AND e.seq > w.delivered_seq AND e.seq <= c.last_seq
       AND (cardinality(w.types) = 0 OR e.type = ANY(w.types))
     ORDER BY e.seq LIMIT 1) AS event
FROM directory.webhook_endpoints w
JOIN directory.event_cursors c ON c.account_id = w.account_id
WHERE w.enabled AND w.next_attempt_time <= now() AND c.last_seq > w.delivered_seq
  AND w.secret_sealed IS NOT NULL
ORDER BY w.next_attempt_time
LIMIT 1
FOR UPDATE OF w SKIP LOCKED
"""  # noqa: S608

NEXT_EVENT = f"""
SELECT {EVENT_COLUMNS} FROM directory.events e
WHERE e.account_id = $1 AND e.seq > $2 AND e.seq <= $3
  AND (cardinality($4::text[]) = 0 OR e.type = ANY($4))
ORDER BY e.seq LIMIT 1
"""  # noqa: S608

# Nothing of a wanted type up to the last event read: nothing to deliver up to there.
SKIP_TO = """
UPDATE directory.webhook_endpoints SET delivered_seq = $3
WHERE account_id = $1 AND id = $2
"""

# The log row and the moved cursor in one statement.
DELIVERED = """
WITH logged AS (
    INSERT INTO directory.webhook_deliveries (account_id, endpoint_id, event_id, event_seq,
        event_type, attempt, succeeded, http_status, latency_ms)
    VALUES ($1, $2, $4, $3, $5, $6, true, $7, $8)
)
UPDATE directory.webhook_endpoints
SET delivered_seq = $3, attempts = 0, failing_since = NULL, next_attempt_time = now()
WHERE account_id = $1 AND id = $2
"""

FAILED = """
UPDATE directory.webhook_endpoints
SET attempts = attempts + 1, failing_since = COALESCE(failing_since, now()),
    next_attempt_time = now() + make_interval(secs => $3)
WHERE account_id = $1 AND id = $2
RETURNING failing_since
"""

DISABLE = """
UPDATE directory.webhook_endpoints
SET enabled = false, disabled_reason = $3, version = version + 1, update_time = now()
WHERE account_id = $1 AND id = $2
"""

LOG = """
INSERT INTO directory.webhook_deliveries (account_id, endpoint_id, event_id, event_seq,
    event_type, attempt, resend, succeeded, http_status, latency_ms, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""

# A resend waits while its endpoint has a delivery in flight (both rows are locked).
CLAIM_RESEND = f"""
SELECT {ENDPOINT_COLUMNS}, r.event_seq
FROM directory.webhook_resends r
JOIN directory.webhook_endpoints w ON w.account_id = r.account_id AND w.id = r.endpoint_id
WHERE w.secret_sealed IS NOT NULL
ORDER BY r.request_time
LIMIT 1
FOR UPDATE OF r, w SKIP LOCKED
"""  # noqa: S608

RESEND_EVENT = (
    f"SELECT {EVENT_COLUMNS} FROM directory.events e WHERE e.account_id = $1 AND e.seq = $2"  # noqa: S608
)

RESENT = """
DELETE FROM directory.webhook_resends WHERE account_id = $1 AND endpoint_id = $2 AND event_seq = $3
"""

# Seconds until the next retry falls due (NULL: none waiting), so an idle worker wakes for it.
# Endpoints due already are being delivered by another worker (else this one had claimed them).
NEXT_DUE = """
SELECT EXTRACT(EPOCH FROM min(w.next_attempt_time) - now())::float8
FROM directory.webhook_endpoints w
JOIN directory.event_cursors c ON c.account_id = w.account_id
WHERE w.enabled AND c.last_seq > w.delivered_seq AND w.next_attempt_time > now()
"""

PRUNE_LOG = "DELETE FROM directory.webhook_deliveries WHERE time < $1"
