"""The GraphQL schema: one Query and one Mutation composed from each domain's classes."""

from __future__ import annotations

import functools

import strawberry
from strawberry.extensions import MaxTokensLimiter
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.config import StrawberryConfig

from api.assessment.schema import AssessmentMutation, AssessmentQuery
from api.bonds.schema import BondMutation, BondQuery
from api.brand.schema import BrandMutation, BrandQuery
from api.config.schema import ConfigMutation, ConfigQuery
from api.descriptions import describe
from api.dual.activities import ActivityMutation, ActivityQuery
from api.dual.emergency import EmergencyMutation, EmergencyQuery
from api.dual.lists import DualListMutation, DualListQuery
from api.dual.registrations import DualRegistrationMutation, DualRegistrationQuery
from api.dual.reports import DualReportMutation, DualReportQuery
from api.errors import shape_errors
from api.execution import SettledExecution
from api.execution import install as wait_for_siblings
from api.files.schema import FileMutation, FileQuery
from api.guard import GuardArguments
from api.inbox.schema import NotificationMutation, NotificationQuery
from api.jobruns.schema import JobRunQuery
from api.ledger.schema import LedgerQuery
from api.limits import ParsedOnce, limits
from api.meetings.schema import MeetingMutation, MeetingQuery
from api.money import SCALARS
from api.observability import tracing
from api.observability.middleware import ObserveOperation
from api.points.earning import PointsEarningMutation, PointsEarningQuery
from api.points.grids import GridMutation, GridQuery
from api.points.vouchers import VoucherMutation, VoucherQuery
from api.rows import NodeQuery
from api.subsidies.schema import SubsidyMutation, SubsidyQuery
from api.tenancy.schema import TenancyMutation, TenancyQuery
from api.territory.imports import ImportMutation
from api.territory.managers import ManagerMutation, ManagerQuery
from api.territory.schema import TerritoryMutation, TerritoryQuery
from api.territory.types import AREA_TYPES
from api.tickets.imports import TicketImportMutation
from api.tickets.kpis import TicketKpiQuery
from api.tickets.office import OfficeQuery
from api.tickets.schema import TicketMutation, TicketQuery
from api.transaction import OperationTransaction
from tenants.settings import Settings, get_settings

# Types reachable only through an interface must be named to the schema.
EXTRA_TYPES = list(AREA_TYPES.values())


@strawberry.type
class Query(
    NodeQuery,
    TenancyQuery,
    JobRunQuery,
    TerritoryQuery,
    ConfigQuery,
    TicketQuery,
    TicketKpiQuery,
    FileQuery,
    NotificationQuery,
    OfficeQuery,
    AssessmentQuery,
    BondQuery,
    BrandQuery,
    LedgerQuery,
    SubsidyQuery,
    PointsEarningQuery,
    GridQuery,
    VoucherQuery,
    DualRegistrationQuery,
    DualListQuery,
    ActivityQuery,
    DualReportQuery,
    EmergencyQuery,
    MeetingQuery,
    ManagerQuery,
):
    pass


@strawberry.type
class Mutation(
    TenancyMutation,
    TerritoryMutation,
    ImportMutation,
    ConfigMutation,
    TicketMutation,
    TicketImportMutation,
    FileMutation,
    NotificationMutation,
    AssessmentMutation,
    BondMutation,
    BrandMutation,
    SubsidyMutation,
    PointsEarningMutation,
    GridMutation,
    VoucherMutation,
    DualRegistrationMutation,
    DualListMutation,
    ActivityMutation,
    DualReportMutation,
    EmergencyMutation,
    MeetingMutation,
    ManagerMutation,
):
    pass


class Schema(strawberry.Schema):
    """A strawberry schema whose every type, field, argument and enum value is described (api/descriptions.py)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("execution_context_class", SettledExecution)  # no resolver outlives the transaction
        super().__init__(*args, **kwargs)
        describe(self._schema)

    def process_errors(self, errors, execution_context=None):  # type: ignore[no-untyped-def]
        """Client errors are the client's business; unexpected ones are logged where they are masked."""


wait_for_siblings()  # a field's error must not cancel a sibling mid-query (api/execution.py)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or get_settings()
    extensions: list = [
        ObserveOperation,  # first: it sees the errors as shaped (api/observability/)
        shape_errors(suggestions=settings.introspection_enabled),
        functools.partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        # Parsed documents are kept per query text (and max_tokens) in one module-level LRU shared by every
        # request; validation results per text in limits().
        ParsedOnce,
        limits(settings),
        OperationTransaction,
        GuardArguments,
    ]
    if not settings.introspection_enabled:
        extensions.append(DisableIntrospection)
    if (traced := tracing.graphql_extension()) is not None:  # only when tracing is on: no cost otherwise
        extensions.append(traced)
    return Schema(
        query=Query,
        mutation=Mutation,
        types=EXTRA_TYPES,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=not settings.introspection_enabled, scalar_map=SCALARS),
    )


# For `strawberry export-schema api.schema:schema` and the freshness test.
schema = Schema(
    query=Query, mutation=Mutation, types=EXTRA_TYPES, config=StrawberryConfig(scalar_map=SCALARS)
)
