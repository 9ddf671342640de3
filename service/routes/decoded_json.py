"""A route class that takes the JSON body the body guard already decoded.

:class:`service.middleware.RequestBodyGuard` decodes every JSON body once (strictly, with
orjson) to check it; routes using :class:`DecodedJSONRoute` hand that value to FastAPI instead
of decoding the body a second time with Python's slower ``json``. Validation against the
request model is unchanged. Every router with a JSON body uses it (a test holds them to it).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from service.middleware import DECODED_JSON_SCOPE_KEY


class DecodedJSONRequest(Request):
    """A request whose ``json()`` is the guard's decoded body when there is one."""

    async def json(self) -> Any:
        if DECODED_JSON_SCOPE_KEY in self.scope:
            return self.scope[DECODED_JSON_SCOPE_KEY]
        return await super().json()


class DecodedJSONRoute(APIRoute):
    """``APIRoute`` that reads bodies through :class:`DecodedJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decoded_json_handler(request: Request) -> Response:
            return await handler(DecodedJSONRequest(request.scope, request.receive))

        return decoded_json_handler
