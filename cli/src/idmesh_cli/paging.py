"""Reading every page of a list RPC."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
PAGE_SIZE = 100


async def every_page(fetch: Callable[[str], Awaitable[tuple[Sequence[T], str]]]) -> list[T]:
    """Calls ``fetch(page_token)`` from "" until the next token is empty; a server repeating a
    token would otherwise loop forever, so a repeat ends the listing."""
    items: list[T] = []
    token = ""
    seen: set[str] = set()
    while True:
        page, token = await fetch(token)
        items.extend(page)
        if not token or token in seen:
            return items
        seen.add(token)
