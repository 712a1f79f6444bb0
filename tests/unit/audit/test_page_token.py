"""ListAuditEvents page tokens: what a previous page gave back, nothing else."""

from __future__ import annotations

import base64
import json

import pytest

from novaos.audit.sink import decode_page_token, encode_page_token
from novaos.errors import InvalidArgumentError

MAX_SEQ = 2**63 - 1  # seq is an int64 (the proto, the database's bigint)


def _token(payload: object) -> str:
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("after", [0, 1, 149, MAX_SEQ])
def test_a_token_from_a_page_decodes_to_its_seq(after: int) -> None:
    assert decode_page_token(encode_page_token(after)) == after


@pytest.mark.parametrize(
    "payload",
    [
        {"after": True},  # a bool is an int to isinstance: it was taken as seq 1
        {"after": False},
        {"after": -1},
        {"after": 1.0},
        {"after": "1"},
        {"after": None},
        {"after": MAX_SEQ + 1},  # no seq is that large
        {"before": 1},
        [1],
        1,
    ],
    ids=repr,
)
def test_a_tampered_token_is_refused(payload: object) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        decode_page_token(_token(payload))
    assert refused.value.field == "page_token"


@pytest.mark.parametrize("token", ["!!!", "eyJhZnRlciI6", base64.b64encode(b"\xff").decode()])
def test_a_token_that_is_not_one_is_refused(token: str) -> None:
    with pytest.raises(InvalidArgumentError):
        decode_page_token(token)
