"""Provider text is always encodable: split surrogate pairs joined, lone halves replaced."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from novaos.ports import ProviderChunk
from novaos.providers.text import SurrogateJoiner, clean

SMILE = "\U0001f642"  # in JSON: "\ud83d\ude42"
HIGH, LOW = "\ud83d", "\ude42"


def test_a_pair_split_across_chunks_is_joined() -> None:
    joiner = SurrogateJoiner()
    assert joiner.text("hi " + HIGH) == "hi "
    assert joiner.text(LOW + " there") == SMILE + " there"


def test_lone_halves_become_replacement_characters() -> None:
    assert clean("a" + LOW + "b" + HIGH + "c") == "a\ufffdb\ufffdc"
    assert clean("plain ascii") == "plain ascii"
    assert clean("caf\u00e9 " + SMILE) == "caf\u00e9 " + SMILE


def test_a_chunk_holding_only_half_a_pair_is_held_back() -> None:
    joiner = SurrogateJoiner()
    assert joiner.chunk(ProviderChunk(text=HIGH, model="m")) is None
    joined = joiner.chunk(ProviderChunk(text=LOW, model="m"))
    assert joined is not None and joined.text == SMILE


def test_a_half_pair_at_the_end_of_the_stream_is_not_lost() -> None:
    joiner = SurrogateJoiner()
    joiner.text("end" + HIGH)
    last = joiner.last(ProviderChunk(finish_reason="stop"))
    assert last.text == "\ufffd" and last.finish_reason == "stop"


_PIECES = st.text(
    alphabet=st.one_of(
        st.sampled_from([HIGH, LOW, "\udbff", "\udc00", SMILE, "a", "\u00e9"]),
        st.characters(exclude_categories=()),  # surrogates included
    ),
    max_size=8,
)


@given(st.lists(_PIECES, max_size=8))
def test_whatever_arrives_the_output_encodes_and_keeps_every_valid_character(
    pieces: list[str],
) -> None:
    joiner = SurrogateJoiner()
    out = "".join(joiner.text(p) for p in pieces)
    out = joiner.last(ProviderChunk(text=out)).text
    out.encode("utf-8")  # never raises
    valid = clean("".join(pieces))
    assert out == valid
