"""Error shaping: expected failures keep code, field and bilingual message; everything else is masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from tenants.errors import DomainError

log = logging.getLogger("civicgrid.graphql")

MASKED_ZH = "服务器内部错误"
MASKED_EN = "Unexpected error"


def shape(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=original,
            extensions=original.extensions(),
        )
    if original is None or isinstance(original, GraphQLError):
        # Parse and validation errors (including depth, alias and token limits, and a scalar refusing a value):
        # the client's to fix.
        ext = dict(error.extensions or {})
        ext.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
        return GraphQLError(
            error.message,
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


class ShapeErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [shape(e) for e in result.errors]
