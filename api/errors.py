"""Error shaping: expected failures keep code, field and bilingual message; everything else is masked."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from tortoise.exceptions import ValidationError

from api.observability.requests import current_id
from api.validation import explain
from tenants.db import is_outage
from tenants.errors import DomainError, InvalidInput, Problem

log = logging.getLogger("civicgrid.graphql")
outage_log = logging.getLogger("civicgrid.outage")

MASKED_ZH = "服务器内部错误"
MASKED_EN = "Unexpected error"
# Problems listed per error; the rest are counted (a 100,000-key input must not answer with megabytes).
MAX_PROBLEMS = 50
# GraphQL's "Did you mean 'STREET'?" (fields, arguments, enum values, types, input fields) names the schema.
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def capped(extensions: dict[str, Any]) -> dict[str, Any]:
    """The extensions with at most MAX_PROBLEMS problems, and how many more there were (``moreProblems``)."""
    problems = extensions.get("problems") or []
    if len(problems) <= MAX_PROBLEMS:
        return extensions
    return {**extensions, "problems": problems[:MAX_PROBLEMS], "moreProblems": len(problems) - MAX_PROBLEMS}


UNAVAILABLE_ZH = "服务暂不可用（数据库无法访问），结果未知，请稍后用同一幂等键重试"
UNAVAILABLE_EN = (
    "service temporarily unavailable (the database cannot be reached); the outcome is unknown: retry later"
    " with the same idempotency key"
)


PROVIDER_UNAVAILABLE_ZH = "身份认证服务暂时无法访问，请稍后重试"
PROVIDER_UNAVAILABLE_EN = "the identity provider cannot be reached; retry later"


def unavailable_extensions(*, provider: bool = False) -> dict[str, Any]:
    """UNAVAILABLE (retryable): the database, or with ``provider`` the identity provider's keys."""
    zh, en = (PROVIDER_UNAVAILABLE_ZH, PROVIDER_UNAVAILABLE_EN) if provider else (UNAVAILABLE_ZH, UNAVAILABLE_EN)
    return {"code": "UNAVAILABLE", "field": None, "messageZh": zh, "messageEn": en, "retryable": True}


class Outage:
    """The database's state as the API last saw it: logged once when it becomes unreachable and once when it
    answers again, never a traceback per request."""

    def __init__(self) -> None:
        self.down = False
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        if not self.down:
            self.down = True
            outage_log.error("database unavailable: %s: %s", type(exc).__name__, str(exc)[:200])

    def answered(self) -> None:
        if self.down:
            self.down = False
            outage_log.warning("database available again after %d failed requests", self.failures)
            self.failures = 0


outage = Outage()


def unavailable(error: GraphQLError | None = None) -> GraphQLError:
    return GraphQLError(
        f"{UNAVAILABLE_ZH} / {UNAVAILABLE_EN}",
        nodes=error.nodes if error else None,
        source=error.source if error else None,
        positions=error.positions if error else None,
        path=error.path if error else None,
        extensions=unavailable_extensions(),
    )


def _stored_value_refused(exc: ValidationError) -> InvalidInput:
    """A value the ORM's field check refused (``code: Length of '...' 65 > 64``) that no service check caught
    first: the client's input, named by its field."""
    field, _, _ = str(exc).partition(":")
    name = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), field.strip()) or "input"
    problem = Problem(name, "invalid", f"{name} 的值无法保存", f"{name} has a value that cannot be stored")
    return InvalidInput.of([problem])


def shape(error: GraphQLError, *, suggestions: bool = True) -> GraphQLError:
    original = error.original_error
    if isinstance(original, ValidationError):
        log.warning("a stored value refused at %s: %s", error.path, original)
        original = _stored_value_refused(original)
    if original is not None and not isinstance(original, (DomainError, GraphQLError)) and is_outage(original):
        outage.failed(original)
        return unavailable(error)
    if isinstance(original, DomainError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=original,
            extensions=capped(original.extensions()),
        )
    if original is None or isinstance(original, GraphQLError):
        # Parse and validation errors (including depth, alias and token limits, and a scalar refusing a value):
        # the client's to fix.
        message = error.message if suggestions else SUGGESTION.sub("", error.message)
        ext = dict(error.extensions or {})
        ext.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
        if ext["code"] == "GRAPHQL_VALIDATION_FAILED":
            said = explain(message)
            ext.setdefault("field", said["field"])
            ext.setdefault("reason", said["reason"])
            ext.setdefault("messageZh", said["messageZh"])
            ext.setdefault("messageEn", message)
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=ext,
        )
    log.error("unexpected error at %s", error.path, exc_info=original)
    return GraphQLError(
        f"{MASKED_ZH} / {MASKED_EN}",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_ERROR", "field": None, "messageZh": MASKED_ZH, "messageEn": MASKED_EN},
    )


def with_request_id(error: GraphQLError) -> GraphQLError:
    """The error with the request's id in its extensions (``requestId``), to quote to an operator."""
    if (request_id := current_id()) is not None:
        error.extensions = {**(error.extensions or {}), "requestId": request_id}
    return error


class ShapeErrors(SchemaExtension):
    suggestions = True

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [with_request_id(shape(e, suggestions=self.suggestions)) for e in result.errors]


class ShapeErrorsWithoutSuggestions(ShapeErrors):
    """Production: no "Did you mean ...?" (introspection is off, so the schema is not to be guessed either)."""

    suggestions = False


def shape_errors(*, suggestions: bool) -> type[ShapeErrors]:
    return ShapeErrors if suggestions else ShapeErrorsWithoutSuggestions
