"""Reading an HTML form body (application/x-www-form-urlencoded or multipart/form-data) without
letting a malformed one become a 500.

aiohttp's ``request.post()`` raises whatever its decoders raise: UnicodeDecodeError for bytes that
are not in the declared charset (UTF-8 by default), LookupError for a charset Python does not
know, HttpProcessingError for broken multipart headers, RequestPayloadError for a body its
Content-Encoding does not decode. Each is the sender's error: a 400 naming the problem.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from meshkit.errors import InvalidArgument

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


async def read_form(request: web.Request, *, field: str = "body") -> Form:
    """The form in ``request``'s body; InvalidArgument (400) when it cannot be read. A body over
    the application's client_max_size still raises HTTPRequestEntityTooLarge (413)."""
    try:
        return await request.post()
    except (ValueError, LookupError, HttpProcessingError, web.RequestPayloadError):
        # ValueError covers UnicodeDecodeError and multipart's own refusals.
        raise InvalidArgument(
            "the form cannot be read: send application/x-www-form-urlencoded in UTF-8",
            field=field,
        ) from None
