"""AuditReader.verify's range: a bad one names its field; an empty one is ok."""

from __future__ import annotations

import pytest

from novaos.audit.reader import AuditReader
from novaos.audit.sinks.memory import MemoryAuditSink
from novaos.errors import InvalidArgumentError
from tests.fixtures.audit_data import chain


async def _reader(records: int) -> AuditReader:
    sink = MemoryAuditSink()
    await sink.open()
    await sink.append(chain(records))
    return AuditReader(sink)


@pytest.mark.parametrize(
    ("from_seq", "to_seq", "field"),
    [
        (-1, 0, "from_seq"),
        (0, -1, "to_seq"),
        (1, -1, "to_seq"),
        (-1, -1, "from_seq"),
        (5, 3, "to_seq"),
    ],
)
async def test_a_bad_range_names_the_field_that_is_wrong(
    from_seq: int, to_seq: int, field: str
) -> None:
    # to_seq=-1 was refused as "from_seq: need 0 <= from_seq <= to_seq".
    reader = await _reader(3)
    with pytest.raises(InvalidArgumentError) as refused:
        await reader.verify(from_seq, to_seq)
    assert refused.value.field == field
    assert refused.value.message.startswith(f"{field}: ")


@pytest.mark.parametrize(("from_seq", "to_seq"), [(4, 0), (10, 0), (10, 20), (4, 4)])
async def test_a_range_past_the_last_record_is_ok_and_checks_nothing(
    from_seq: int, to_seq: int
) -> None:
    result = await (await _reader(3)).verify(from_seq, to_seq)
    assert (result.ok, result.checked, result.first_bad_seq, result.problem) == (True, 0, 0, "")


async def test_a_range_that_reaches_the_last_record_checks_it() -> None:
    reader = await _reader(3)
    assert (await reader.verify(3, 0)).checked == 1
    assert (await reader.verify(2, 9)).checked == 2
    assert (await reader.verify(3, 3)).checked == 1
