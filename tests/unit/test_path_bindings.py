"""novaos.transport.path_bindings: a transcoded call's path decides its path-bound
fields, read as the transcoder's path matcher reads the path."""

from __future__ import annotations

import pytest

from generated.novaos.v1 import audit_pb2, chat_pb2, health_pb2
from novaos.errors import InvalidArgumentError
from novaos.transport.path_bindings import (
    ORIGINAL_PATH,
    bindings,
    matched_path,
    refuse_contradicted_path,
)

GET_CONVERSATION = "/novaos.v1.ChatService/GetConversation"
RESET_CIRCUIT = "/novaos.v1.HealthService/ResetCircuit"
GET_AUDIT_EVENT = "/novaos.v1.AuditService/GetAuditEvent"
RESET = health_pb2.ResetCircuitRequest()


def _conversation(cid: str) -> chat_pb2.GetConversationRequest:
    return chat_pb2.GetConversationRequest(conversation_id=cid)


def test_templates_compile_to_one_group_per_variable() -> None:
    [(regex, fields, template)] = bindings(GET_CONVERSATION)
    assert template == "/api/v1/conversations/{conversation_id}"
    assert fields == ("conversation_id",)
    assert regex.fullmatch("/api/v1/conversations/abc").groups() == ("abc",)
    assert regex.fullmatch("/api/v1/conversations/a/b") is None
    [(regex, fields, _)] = bindings(RESET_CIRCUIT)
    assert fields == ("provider",)
    assert regex.fullmatch("/api/v1/health/circuits/mock:reset").groups() == ("mock",)


def test_a_method_without_path_variables_or_unknown_has_no_bindings() -> None:
    assert bindings("/novaos.v1.ChatService/Chat") == ()
    assert bindings("/novaos.v1.ChatService/NoSuchMethod") == ()
    assert bindings("/no.such.Service/Call") == ()


@pytest.mark.parametrize(
    ("original", "matched"),
    [
        ("/api/v1/conversations/abc", "/api/v1/conversations/abc"),
        ("/api/v1/conversations/abc?conversation_id=x", "/api/v1/conversations/abc"),
        ("/api/v1/conversations/abc/", "/api/v1/conversations/abc"),
        ("/api/v1/conversations/abc///?x=/", "/api/v1/conversations/abc"),
        ("/", "/"),
        ("//", "/"),
    ],
)
def test_the_path_is_matched_without_its_query_and_trailing_slashes(
    original: str, matched: str
) -> None:
    assert matched_path(original) == matched


@pytest.mark.parametrize(
    "original",
    [
        "/api/v1/conversations/abc",
        "/api/v1/conversations/abc/",
        "/api/v1/conversations/abc//?conversation_id=abc",
        "/api/v1/conversations/ab%63",
    ],
)
def test_a_path_naming_the_requests_value_is_let_through(original: str) -> None:
    refuse_contradicted_path(GET_CONVERSATION, [(ORIGINAL_PATH, original)], _conversation("abc"))


@pytest.mark.parametrize(
    "original",
    [
        "/api/v1/conversations/decoy?conversation_id=victim",
        "/api/v1/conversations/decoy/?conversation_id=victim",
        "/api/v1/conversations/decoy//",
    ],
)
def test_a_path_naming_another_value_is_refused(original: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        refuse_contradicted_path(
            GET_CONVERSATION, [(ORIGINAL_PATH, original)], _conversation("victim")
        )
    assert raised.value.field == "conversation_id"
    assert raised.value.description.startswith("the path names 'decoy'; ")


@pytest.mark.parametrize(
    ("method", "original", "message", "field"),
    [
        (GET_CONVERSATION, "/api/v1/conversations/decoy/.", _conversation("victim"), None),
        (GET_CONVERSATION, "/api/v1/conversations/decoy/%2E/", _conversation("victim"), None),
        (GET_CONVERSATION, "/api/v1/conversations/a/b", _conversation("a"), None),
        (GET_CONVERSATION, "/api/v1/conversations", _conversation("victim"), None),
        (GET_AUDIT_EVENT, "/api/v1/audit/events/x/..", audit_pb2.GetAuditEventRequest(), "id"),
        (RESET_CIRCUIT, "/api/v1/health/circuits/mock", RESET, "provider"),
    ],
)
def test_a_path_fitting_none_of_the_methods_templates_is_refused_naming_it(
    method: str, original: str, message: object, field: str | None
) -> None:
    # Letting it through let the query (or body) decide the field again.
    with pytest.raises(InvalidArgumentError) as raised:
        refuse_contradicted_path(method, [(ORIGINAL_PATH, original + "?x=1")], message)
    assert raised.value.field == (field or "conversation_id")
    assert raised.value.description.startswith(f"the path {original!r} does not name it as ")


def test_a_call_without_the_header_or_without_bindings_is_not_checked() -> None:
    refuse_contradicted_path(GET_CONVERSATION, [], _conversation("victim"))
    refuse_contradicted_path(GET_CONVERSATION, [("other", "/x")], _conversation("victim"))
    # Chat has no path variables: any path (its own, or a caller's header) passes.
    refuse_contradicted_path(
        "/novaos.v1.ChatService/Chat", [(ORIGINAL_PATH, "/anything/.")], chat_pb2.ChatRequest()
    )
