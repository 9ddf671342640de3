"""The API key rule: ``Authorization: Bearer <TOOLGRADE_API_KEY>``, compared in constant time.

Enforced once, by :class:`service.middleware.ApiKeyMiddleware`, before a request's body is read
(an unauthenticated client never gets its body decoded, and gets 401 whatever it sent); the
OpenAPI schema documents it as a bearer scheme (:mod:`service.app`).
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from service.errors import AuthenticationError


def check_bearer_key(authorization: str | None, api_key: SecretStr) -> None:
    """Accept ``Bearer <api_key>`` (scheme case-insensitive), refuse anything else.

    Raises:
        AuthenticationError: ``auth:missing_key`` (no bearer credentials) or
            ``auth:invalid_key`` (wrong key).

    Example:
        >>> check_bearer_key("Bearer s3cret", SecretStr("s3cret"))
        >>> try:
        ...     check_bearer_key("Basic s3cret", SecretStr("s3cret"))
        ... except AuthenticationError as exc:
        ...     print(exc.label)
        auth:missing_key
    """
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError(
            "missing API key: send 'Authorization: Bearer <TOOLGRADE_API_KEY>'",
            label="auth:missing_key",
        )
    if not hmac.compare_digest(token.encode(), api_key.get_secret_value().encode()):
        raise AuthenticationError("invalid API key", label="auth:invalid_key")
