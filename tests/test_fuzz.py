"""Fuzzing the edge: every query and mutation of schema.graphql with hypothesis-graphql, as a tenant admin and as
a resident, then a list of hostile raw requests. No answer may be an HTTP 5xx or an INTERNAL_ERROR, and the
server must stay healthy.

A few examples per operation in CI (about 20 s); ``CIVICGRID_FUZZ_EXAMPLES`` raises the count, and
``bench/fuzz.py`` runs many more and prints counts by status and code.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests import fuzz_kit

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("CIVICGRID_FUZZ_EXAMPLES", "2"))
OPERATIONS = list(fuzz_kit.operations())
STRATEGIES = {op: fuzz_kit.strategy(*op) for op in OPERATIONS}
# The operations in parts, one test case each: hypothesis bounds the choices one test case may draw, and a case
# drawing every operation of the schema overran it, so hypothesis discarded and redrew it again and again (minutes).
PARTS = 4


@pytest.fixture
async def tokens(app, settings):
    return await fuzz_kit.seed(settings)


@pytest.fixture
def causes():
    handler = fuzz_kit.Causes().install()
    yield handler
    handler.remove()


def test_every_operation_of_the_schema_is_fuzzed():
    # 48 queries and 45 mutations today; a new one joins the fuzz run by being in schema.graphql.
    assert ("query", "me") in OPERATIONS and ("mutation", "recordInterview") in OPERATIONS
    assert len(OPERATIONS) == len(fuzz_kit.QUERIES) + len(fuzz_kit.MUTATIONS) > 90


@pytest.mark.parametrize("part", range(PARTS))
@pytest.mark.parametrize("role", ["tenant_admin", "resident"])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("CIVICGRID_FUZZ_RANDOM") is None,  # the same inputs on every CI run
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is a request per operation
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
async def test_fuzzed_operations_never_fail_the_server(client, tokens, causes, role, part, data):
    faults: list[str] = []
    for (kind, name), strategy in list(STRATEGIES.items())[part::PARTS]:
        query = data.draw(strategy, label=name)
        outcome = await fuzz_kit.send(client, tokens[role], query=query)
        cause = causes.take() or outcome.detail
        if outcome.bad:
            faults.append(f"{kind} {name} -> {outcome.status} {outcome.codes} {cause}\n    {query[:600]}")
    assert await fuzz_kit.healthy(client, tokens[role])
    assert not faults, f"{len(faults)} server faults:\n" + "\n".join(faults[:40])


async def test_hostile_raw_requests_never_fail_the_server(client, tokens, causes):
    faults = []
    for raw in fuzz_kit.HOSTILE:
        outcome = await fuzz_kit.send(client, tokens["tenant_admin"], raw=raw)
        cause = causes.take() or outcome.detail
        if outcome.bad:
            faults.append(f"{raw.name} -> {outcome.status} {outcome.codes} {cause}")
    assert await fuzz_kit.healthy(client, tokens["tenant_admin"])
    assert not faults, f"{len(faults)} server faults:\n" + "\n".join(faults)


async def test_service_faults_the_fuzzer_found_are_typed_errors(client, tokens):
    admin = tokens["tenant_admin"]

    async def ask(query):
        outcome = await fuzz_kit.send(client, admin, query=query)
        return outcome.codes, outcome.detail

    # A grid lies below no compound: compoundId does not apply (was a FieldError, INTERNAL_ERROR).
    codes, detail = await ask('{ areas(level: GRID, compoundId: "7") { edges { cursor } } }')
    assert codes == ("INVALID_INPUT",) and "grid nodes are filtered by a higher level, not by compound" in detail
    # No round opened for the period (was DoesNotExist, INTERNAL_ERROR); a period that is none is bad input.
    assert (await ask('{ missingScores(period: "2026Q4") }'))[0] == ("NOT_FOUND",)
    assert (await ask('{ missingScores(period: "") }'))[0] == ("INVALID_INPUT",)
    # Year 0 has no 31 December (was ValueError, INTERNAL_ERROR).
    assert (await ask("{ eliminationCandidates(year: 0) { companyId } }"))[0] == ("INVALID_INPUT",)
