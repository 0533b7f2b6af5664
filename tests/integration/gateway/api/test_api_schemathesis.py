"""schemathesis against the OpenAPI document the gateway serves, on the in-process stack with
the real directory and auth: for every operation, generated requests (valid ones, and invalid
ones the API must refuse with a 4xx) never get a 5xx, and every response matches the documented
status codes, content types, headers and schemas.

Bounded and deterministic: a fixed number of examples per operation, Hypothesis derandomised,
no example database, no shrinking. Some requests aim at resources that exist (path ids and body
ids of a seeded tenant), so the success paths are exercised as well as the 404s.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.api import PREFIX, ROUTES
from tests.integration.gateway.api.stack import (
    Stack,
    example_body,
    names_resources,
    new_tenant,
    seed_resources,
)

# 34 operations x (POSITIVE + NEGATIVE) examples: about 20 s on 2 cores.
POSITIVE_EXAMPLES = 25
NEGATIVE_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
OPERATION_IDS = [route.endpoint.name for route in ROUTES] + ["get_openapi_document"]


def invalid_data_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' negative_data_rejection, with 413 counted as a refusal: a generated body
    past the gateway's 1 MiB limit (a metadata_xml far beyond its maxLength) is refused before
    it is read, RFC 9110 §15.5.14."""
    if response.status_code == 413:
        return True
    result: bool | None = negative_data_rejection(ctx, response, case)
    return result


@pytest.fixture(scope="module")
async def schema(stack: Stack) -> Any:
    """The document as served, loaded by schemathesis (which also checks it is valid)."""
    return await asyncio.to_thread(
        schemathesis.openapi.from_url, f"{stack.base_url}{PREFIX}/openapi.json"
    )


def _fuzz(
    schema: Any, operation_id: str, base_url: str, token: str, seeded: dict[str, str]
) -> None:
    """Runs the generated requests of one operation (in a worker thread: schemathesis calls
    the API synchronously while the test's event loop serves it)."""
    operation = schema.find_operation_by_id(operation_id)
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in seeded.items() if name in names}
    route = next((r for r in ROUTES if r.endpoint.name == operation_id), None)
    body = example_body(route, seeded) if route is not None and names_resources(route) else None
    headers = {"Authorization": f"Bearer {token}"}

    def run(mode: schemathesis.GenerationMode, examples: int) -> None:
        strategies = [operation.as_strategy(generation_mode=mode)]
        if fixed:
            strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=fixed))
        if body is not None and mode.is_positive:
            # Generated ids name nothing: also send bodies naming the seeded resources.
            strategies.append(
                operation.as_strategy(generation_mode=mode, path_parameters=fixed, body=body)
            )

        @hypothesis.given(case=st.one_of(strategies))
        @hypothesis.settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def check(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=10)
            checks = [*CHECKS, invalid_data_refused] if mode.is_negative else CHECKS
            case.validate_response(response, checks=checks)

        check()

    run(schemathesis.GenerationMode.POSITIVE, POSITIVE_EXAMPLES)
    if operation.path_parameters or operation.query or operation.headers or operation.body:
        # Something to make invalid: each such request must be refused with a 4xx.
        run(schemathesis.GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)


@pytest.mark.parametrize("operation_id", OPERATION_IDS)
async def test_generated_requests_never_fail_and_match_the_document(
    operation_id: str, schema: Any, stack: Stack
) -> None:
    """OpenAPI 3.1 conformance (schemathesis): no 5xx, documented statuses, content types,
    headers and bodies, RFC 9457 problems for every refusal."""
    tenant = await new_tenant(stack)
    seeded = await seed_resources(tenant)
    await asyncio.to_thread(_fuzz, schema, operation_id, stack.base_url, tenant.token, seeded)
