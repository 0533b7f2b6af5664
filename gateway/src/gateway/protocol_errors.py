"""Answers to requests aiohttp refuses before any handler or middleware runs: a request line or
header too long, a malformed message, a Content-Encoding it cannot decode; and the connection
after a body that could not be read to its end.

aiohttp renders those itself as text/plain quoting its parser's message: a ``bytearray(...)``
repr of the request line (which may carry an OAuth code in its query string) or "Please install
`Brotli`". We answer the same status as an RFC 9457 problem with a fixed sentence, and log the
status and the exception's type only, never its message. A content coding we cannot decode is
415 (RFC 9110 §15.5.16), not 400.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from gateway.errors import INTERNAL_DETAIL, PROBLEM_CONTENT_TYPE, Problem, problem_body

logger = logging.getLogger(__name__)

_DETAILS = {
    400: "The request is not valid HTTP/1.1, or its request line or a header is too long.",
    415: "The request's Content-Encoding is not one this server decodes: send gzip, deflate "
    "or none.",
}


def _problem(status: int, error: BaseException | None) -> Problem:
    if isinstance(error, ContentEncodingError):
        status = 415
    if status >= 500:
        return Problem(status, INTERNAL_DETAIL)
    return Problem(status, _DETAILS.get(status, _DETAILS[400]))


class ProblemRequestHandler(RequestHandler):
    """aiohttp's connection handler with its error page replaced (see the module)."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # As aiohttp does: part of a response is out, the connection cannot carry another.
            raise ConnectionError("a response was already started")
        problem = _problem(status, exc)
        logger.info(
            "refused a request aiohttp could not read: %d (%s)",
            problem.status,
            type(exc).__name__ if exc is not None else "-",
        )
        response = web.Response(
            status=problem.status,
            body=json.dumps(problem_body(problem)).encode(),
            content_type=PROBLEM_CONTENT_TYPE,
        )
        response.force_close()
        return response


class ProblemServer(web.Server):
    """An aiohttp low-level server whose connections use ProblemRequestHandler."""

    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ProblemAppRunner(web.AppRunner):
    """web.AppRunner serving through ProblemServer."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        kwargs: dict[str, Any] = dict(made._kwargs)
        return ProblemServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **kwargs,
        )


async def close_after_unread_body(request: web.Request, response: web.StreamResponse) -> None:
    """An on_response_prepare hook. A body that could not be read to its end (a
    Content-Encoding that does not decode) cannot be drained, so aiohttp ends the connection;
    the answer must say so (Connection: close, RFC 9112 §9.6) or the client's next request on
    it fails."""
    if request.content.exception() is not None:
        response.force_close()
        # aiohttp derives the Connection header before this hook runs: set it here.
        response.headers[hdrs.CONNECTION] = "close"
