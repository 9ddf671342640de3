"""Route classes that take the JSON body the body guard already decoded.

:class:`service.middleware.RequestBodyGuard` decodes every JSON body once (strictly, with
orjson) to check it; routes using :class:`DecodedJSONRoute` hand that value to FastAPI instead
of decoding the body a second time with Python's slower ``json``. Validation against the
request model is unchanged. Every router with a JSON body uses it (a test holds them to it).

:class:`DirectJSONRoute` (the scoring routes: one small request per RL sample) also skips
FastAPI's general per-request machinery when it can; see there.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import _validate_value_with_model_field
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, serialize_response

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


RequestDependency = Callable[[Request], Awaitable[Any]]


class DirectJSONRoute(DecodedJSONRoute):
    """:class:`DecodedJSONRoute` that runs a simple endpoint directly on a decoded JSON body.

    FastAPI's general request handler (dependency solving, content-type parsing, exit stacks,
    response validation) cost more than a one-sample ``/reward`` itself. For an endpoint of
    one request model and dependencies that each take only the request (``service.deps``),
    a request whose JSON body the guard decoded (content type ``application/json`` or
    ``application/*+json``) is served here with FastAPI's own pieces: the body validated by the
    route's body field under ``("body",)`` (the same errors, so the same 400s), the
    dependencies awaited first (as FastAPI does), the result serialised by FastAPI's
    ``serialize_response`` with the route's response-model options. Any other request (no
    body, another content type, dependency overrides set), and any endpoint that does not fit,
    takes FastAPI's general path.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        general = super().get_route_handler()
        plan = _direct_plan(self)
        if plan is None:
            return general
        body_name, dependencies = plan
        endpoint = self.dependant.call
        body_field = self.body_field
        assert endpoint is not None and body_field is not None  # checked by _direct_plan
        overrides = self.dependency_overrides_provider
        status_code = self.status_code or 200

        async def direct_handler(request: Request) -> Response:
            scope = request.scope
            if (
                DECODED_JSON_SCOPE_KEY not in scope
                or not _is_application_json(request.headers.get("content-type"))
                or getattr(overrides, "dependency_overrides", None)
            ):
                return await general(request)
            values = {name: await dependency(request) for name, dependency in dependencies}
            body = scope[DECODED_JSON_SCOPE_KEY]
            model, errors = _validate_value_with_model_field(
                field=body_field, value=body, values={}, loc=("body",)
            )
            if errors:
                raise RequestValidationError(errors, body=body)
            values[body_name] = model
            result = await endpoint(**values)
            if isinstance(result, Response):
                return result
            content = await serialize_response(
                field=self.response_field,
                response_content=result,
                include=self.response_model_include,
                exclude=self.response_model_exclude,
                by_alias=self.response_model_by_alias,
                exclude_unset=self.response_model_exclude_unset,
                exclude_defaults=self.response_model_exclude_defaults,
                exclude_none=self.response_model_exclude_none,
                dump_json=True,
            )
            return Response(content, status_code=status_code, media_type="application/json")

        return direct_handler


def _direct_plan(route: APIRoute) -> tuple[str, list[tuple[str, RequestDependency]]] | None:
    """``(body parameter, [(parameter, dependency)])`` when the route fits the direct path."""
    dependant = route.dependant
    if (
        route.body_field is None
        or route.response_field is None
        or not isinstance(route.response_class, DefaultPlaceholder)
        or route.response_model_include is not None
        or route.response_model_exclude is not None
        or _embeds_body(route)
        or len(dependant.body_params) != 1
        or not _async_plain(dependant)
        or _has_own_parameters(dependant)
    ):
        return None
    dependencies: list[tuple[str, RequestDependency]] = []
    for sub in dependant.dependencies:
        takes_only_the_request = (
            sub.name is not None
            and _async_plain(sub)
            and not sub.dependencies
            and not sub.body_params
            and sub.request_param_name is not None
            and not _has_own_parameters(sub, besides_request=True)
        )
        if not takes_only_the_request:
            return None
        call = sub.call
        assert call is not None and sub.name is not None
        dependencies.append((sub.name, call))
    return dependant.body_params[0].name, dependencies


def _embeds_body(route: APIRoute) -> bool:
    return bool(getattr(route, "_embed_body_fields", True))


def _async_plain(dependant: Dependant) -> bool:
    call = dependant.call
    return (
        call is not None
        and inspect.iscoroutinefunction(call)
        and not inspect.isasyncgenfunction(call)
    )


def _has_own_parameters(dependant: Dependant, *, besides_request: bool = False) -> bool:
    return bool(
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or (dependant.request_param_name and not besides_request)
    )


def _is_application_json(content_type: str | None) -> bool:
    """FastAPI's rule for a JSON body: ``application/json`` or ``application/*+json``."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
