"""ListAuditEvents time bounds: start inclusive, end exclusive, to the nanosecond."""

from __future__ import annotations

import dataclasses

import pytest
from google.protobuf import timestamp_pb2

from generated.novaos.v1 import audit_pb2
from novaos.audit.record import build_record
from novaos.transport.audit_servicer import query_of
from tests.fixtures.audit_data import POLICY, summary

SECONDS = 1_700_000_000
RECORD = build_record(summary(1), POLICY, ended_unix=SECONDS + 0.745162)  # .745162000


def _listed(*, start_nanos: int | None = None, end_nanos: int | None = None) -> bool:
    request = audit_pb2.ListAuditEventsRequest()
    if start_nanos is not None:
        request.start_time.CopyFrom(timestamp_pb2.Timestamp(seconds=SECONDS, nanos=start_nanos))
    if end_nanos is not None:
        request.end_time.CopyFrom(timestamp_pb2.Timestamp(seconds=SECONDS, nanos=end_nanos))
    return query_of(request).matches(dataclasses.replace(RECORD, seq=1))


@pytest.mark.parametrize(
    ("nanos", "listed"),
    [(745_161_999, True), (745_162_000, True), (745_162_001, False), (745_162_999, False)],
)
def test_a_start_bound_lists_only_records_at_or_after_it(nanos: int, listed: bool) -> None:
    # Found by a tester: the bound was rounded to the microsecond, so "strictly
    # after the last record I saw" (its time + 1 ns) listed that record again.
    assert RECORD.time.endswith(".745162Z")
    assert _listed(start_nanos=nanos) is listed


@pytest.mark.parametrize(
    ("nanos", "listed"),
    [(745_161_999, False), (745_162_000, False), (745_162_001, True), (745_162_999, True)],
)
def test_an_end_bound_lists_only_records_before_it(nanos: int, listed: bool) -> None:
    assert _listed(end_nanos=nanos) is listed


def test_a_bound_rounded_up_past_the_second_carries() -> None:
    request = audit_pb2.ListAuditEventsRequest(
        start_time=timestamp_pb2.Timestamp(seconds=SECONDS, nanos=999_999_001),
        end_time=timestamp_pb2.Timestamp(seconds=253_402_300_799, nanos=999_999_999),
    )
    query = query_of(request)
    assert query.start_time == "2023-11-14T22:13:21.000000Z"
    assert query.end_time == "9999-12-31T23:59:59.999999Z"  # the last time a record can have
