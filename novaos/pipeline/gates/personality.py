"""Personality: output checks on a stream, with a bounded hold-back window.

The model's text is held until a sentence completes (or the window would exceed
``holdback_chars``), checked, edited if needed and only then released, whole
sentences at a time. Rules (``rules.py``): banned dependency phrases, buy/sell
recommendations and precise figures when disallowed, and the shield's harm
categories (``harm_check``) are violations; sycophantic openers and a third or
later "we can" are silently edited.

Semantics: a violation before anything is released asks for a regeneration; after
release, or on the last attempt (``may_regenerate`` off), minor violations are
edited in the held-back text; harmful text stops the stream (``block``), judged
on the text as released and, once an edit took something, as written (``_harm``:
harm never leaves with an edit). A figure is replaced;
any other violation takes its sentence or list item with it once that has
ended, or its clause when the window fills first or part of the sentence is
already out (``edit_span``): never text that has not arrived. Matches touching
the end of the held text wait for more text (the word may go on), and the window
is never shorter than the longest match, so a banned phrase is never released in
part.

Rules match on what a reader sees (``readable``): a phrase spelled with invisible
characters, odd spaces or look-alike letters is found, and its span mapped back
to the text as written for the edit. The window keeps the last
``MAX_MATCH_CHARS`` characters *of that view*, however many raw characters they
take; held text padded far beyond that (``_MAX_PADDING``) stops the stream.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from novaos.pipeline.gate import CheckStep, OutputConstraints
from novaos.pipeline.gates import edit_span, rules
from novaos.pipeline.gates.readable import Readable, readable

HarmCheck = Callable[[str], str | None]

_MIN_HOLDBACK = rules.MAX_MATCH_CHARS + 24
_MAX_EDITS_PER_STEP = 64
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*\Z")
# A whole answer is fed as a stream would arrive: word by word.
_WORDS = re.compile(r"\S+\s*|\s+")
# A run this long without a space may be cut mid-word when the window is full;
# shorter ones never are (the cut looks for a space in a span this wide).
_LONG_RUN = re.compile(rf"[^ ]{{{_MIN_HOLDBACK - rules.MAX_MATCH_CHARS},}}")
# A feed can only make text releasable (or an opener strippable) through one of
# these: a terminator or newline in the new text, or the held text ending in a
# terminator or closing quote that new whitespace completes (``rules.SENTENCE_END``).
_CAN_END = re.compile(r"[.!?…\n]")
_END_TAIL = frozenset(".!?…\"'”’)]")
# Before the first release an opener may still be stripped: text that could end
# one keeps a feed from being quiet (non-ASCII text may read as "!" or ".").
_CAN_END_OPENER = re.compile(r"[.!?…\n]|[^\x00-\x7f]")
# How far the held text may exceed the window with characters a reader does not
# see (invisible ones, runs of spaces) inside the view's last match length:
# enough for wide layout (a column of single letters 45 spaces apart), a bound
# on the work each step does.
_MAX_PADDING = 2048
_EMPHASIS = "*_~`"
# A figure followed only by one of these at the end of the held text may go on
# ("$67,432." then "10"): replacing it now would release the rest of it.
_FIGURE_GOES_ON = frozenset(".,'’:/- ")
# What of a number goes on past a figure's match that ends in a digit (a
# pattern is bounded, a number is not: "1.2.3.4...16", a 30-digit amount's
# ",000.50", the "%" after "2023,12.5"): it is part of the figure, so no digit
# touches its placeholder. A figure ending otherwise ("12.5%", "3.2B") is whole:
# the ",3" after it is another number.
_REST_OF_NUMBER = re.compile(r"(?:[.,'’]?\d)*%?")
_MAX_OPENERS = 8  # stripped in a row; more is a flood the window bounds anyway
_NOTHING = CheckStep()
# The kinds of the silent edits, as a step's ``edited`` names them (the rules'
# violations are named by their kind).
_OPENER, _WE = "opener", "we"


class _Violation(NamedTuple):
    kind: str
    hit: rules.Hit
    runs_on: bool = False  # a figure whose number may go on with more text


class PersonalityChecker:
    """Implements ``OutputChecker``: one ``PersonalityStream`` per model attempt."""

    def __init__(self, harm_check: HarmCheck | None = None) -> None:
        self._harm_check = harm_check

    def open(self, constraints: OutputConstraints, *, whole: bool = False) -> PersonalityStream:
        return PersonalityStream(constraints, self._harm_check, whole=whole)


class PersonalityStream:
    def __init__(
        self, constraints: OutputConstraints, harm_check: HarmCheck | None, *, whole: bool = False
    ) -> None:
        self._constraints = constraints
        self._harm_check = harm_check
        # A whole answer is judged for harm once, at the end, on all of it as the
        # model wrote it (edits included): more context than any window, and
        # nothing has reached the client yet.
        self._whole: list[str] | None = [] if whole else None
        self.holdback_chars = max(constraints.holdback_chars, _MIN_HOLDBACK)
        self._held = ""
        self._context = ""  # the tail of released text, so harm spanning a cut is seen
        # The tail of the text as the model wrote it (edits undone), which the harm
        # check reads: an edit never takes harm away unseen, nor splits it so that
        # neither half is judged with the other (a clause cut mid-recipe).
        self._written = ""
        self._rewritten = False  # an edit took text: the two views differ
        self._released_any = False
        self._we_seen = 0
        self._head_cut = False  # an edit took the start of the held text
        self._stopped: CheckStep | None = None
        self._waiting = False  # the last step released nothing and found no sentence end
        self._view: Readable | None = None  # of ``_view_of``, the held text it was read from
        self._view_of = ""
        self._edited: dict[str, None] = {}  # kinds edited since the last step returned
        # Where the placeholder ends of a figure replaced before its number was
        # whole (longer than the window keeps): the rest joins it as it arrives.
        self._figure_open: int | None = None

    @property
    def held_chars(self) -> int:
        return len(self._held)

    # Whether a feed that provably changes nothing but the held text skips the
    # step (tests turn it off to compare against stepping on every feed).
    quiet_feeds = True

    def feed(self, text: str) -> CheckStep:
        if self._stopped is not None:
            return self._stopped  # its action, reason and harm again, nothing released
        if len(self._held) + len(text) > self.holdback_chars + _MAX_PADDING:
            return self._feed_words(text)
        return self._feed(text)

    def _feed(self, text: str) -> CheckStep:
        quiet = self._waiting and self.quiet_feeds and self._quiet(text)
        self._held += text
        self._written = (self._written + text)[-(2 * self.holdback_chars + _MAX_PADDING) :]
        if self._whole is not None:
            self._whole.append(text)
        return _NOTHING if quiet else self._step(final=False)

    def _feed_words(self, text: str) -> CheckStep:
        """A piece that could take the held text past the padding bound is fed
        word by word: whether a padded stretch stops the stream must not depend
        on how the upstream cut its chunks (in one piece the forced cut would
        release past a stretch that, arriving in small pieces, stops it)."""
        release: list[str] = []
        edits = 0
        edited: dict[str, None] = {}
        for word in _WORDS.findall(text):
            step = self._feed(word)
            edits += step.edits
            edited.update(dict.fromkeys(step.edited))
            if step.action != "continue":
                return CheckStep(
                    action=step.action, reason=step.reason, edits=edits, harm=step.harm
                )
            release.append(step.release)
        return CheckStep(release="".join(release), edits=edits, edited=tuple(edited))

    def _quiet(self, text: str) -> bool:
        """True when stepping after appending ``text`` would release, edit and strip
        nothing: the last step found no sentence end and a non-empty, stripped held
        text not ending in a terminator or quote; ``text`` brings no terminator or
        newline and keeps the window under the bound. Most words of an answer are
        such feeds; skipping their step makes the check linear in the answer."""
        held = self._held
        return (
            bool(held)
            and held[-1] not in _END_TAIL
            and len(held) + len(text) <= self.holdback_chars
            and _CAN_END.search(text) is None
            # Before the first release an opener (which ends in "!" or ".") may
            # still be stripped from the held text.
            and (
                self._released_any
                or (_CAN_END_OPENER.search(held) is None and _CAN_END_OPENER.search(text) is None)
            )
        )

    def finish(self) -> CheckStep:
        if self._stopped is not None:
            return self._stopped  # its action, reason and harm again, nothing released
        return self._step(final=True)

    def whole(self, text: str) -> list[CheckStep]:
        """Judge a complete answer (unary Chat): the steps feeding it word by word
        and finishing would give.

        When no rule matches anywhere in the answer, no piece of it can match
        either: every window it would be cut into starts after a space or a
        sentence end (no run is long enough to be cut mid-word), and an opener
        matching a prefix would match the whole. Fed word by word it would then
        come out unedited, only stripped at the start, and be judged for harm
        once at the end, so that is done directly, unless it holds enough
        padding that a stretch of it could stop the stream. Otherwise it is fed
        word by word."""
        stripped = text.lstrip()
        if self._whole is None or self._stopped is not None or not self._rules_silent(stripped):
            return [*(self.feed(word) for word in _WORDS.findall(text)), self.finish()]
        harm = self._harm_check(stripped) if self._harm_check else None
        if harm is not None:
            return [self._stop("regenerate", "harmful output", harm, harm=harm)]
        self._released_any = self._released_any or bool(stripped)
        return [CheckStep(release=stripped)]

    def _rules_silent(self, text: str) -> bool:
        if self._held or self._released_any or _LONG_RUN.search(text) is not None:
            return False
        view = readable(text)
        seen = view.text
        return (
            not self._has_padded_stretch(view, len(text))
            and rules.OPENER.match(seen) is None
            and rules.WE.search(seen) is None
            and all(pattern.search(seen) is None for _, pattern in self._patterns())
        )

    def _has_padded_stretch(self, view: Readable, raw_len: int) -> bool:
        """Whether fed word by word the answer could stop as padded output: held
        text stops only when its view is too short to cut (at most the longest
        match) while its raw length exceeds the window and the padding bound.
        Every stretch of that view length, with the invisible characters around
        it, lies inside one of these overlapping windows (a margin on each
        side), so none of them that long in raw text means no stop."""
        width = rules.MAX_MATCH_CHARS + 2
        bound = self.holdback_chars + _MAX_PADDING
        seen = len(view.text)
        for i in range(0, max(seen, 1), width):
            start = view.start(i - width) if i > width else 0
            end = view.end(i + 2 * width + 1) if i + 2 * width + 1 < seen else raw_len
            if end - start > bound:
                return True
        return False

    # ------------------------------------------------------------ one step

    def _step(self, *, final: bool) -> CheckStep:
        self._waiting = False
        edits = 0
        self._join_rest_of_number()
        if not self._released_any:
            edits += self._note(_OPENER, self._strip_opener(final))
        if not final and self._cut() == 0:
            return self._wait(edits)
        edited = self._edit_violations(final)
        if isinstance(edited, CheckStep):
            return edited
        cut = len(self._held) if final else self._cut()
        candidate, self._held = self._held[:cut], self._held[cut:]
        if self._figure_open is not None:
            self._figure_open -= cut
        candidate, we_edits = self._edit_we(candidate)
        if self._whole is not None:
            harm = self._harm_check("".join(self._whole)) if final and self._harm_check else None
            if harm is not None:
                return self._stop("regenerate", "harmful output", harm, harm=harm)
        elif candidate or final:
            harm = self._harm(candidate)
            if harm is not None:
                return self._stop(self._stop_action(), "harmful output", harm, harm=harm)
        if candidate:
            self._released_any = True
            self._context = (self._context + candidate)[-self.holdback_chars :]
            self._head_cut = False
        edits += edited + self._note(_WE, we_edits)
        return CheckStep(release=candidate, edits=edits, edited=self._take_edited())

    def _edit_violations(self, final: bool) -> int | CheckStep:
        """Edit the held text's violations: the number of edits, or the step
        that stops (a regeneration before release, a flood of edits). Harm in
        what an edit takes is judged at the release that follows (``_harm``)."""
        edits = 0
        for _ in range(_MAX_EDITS_PER_STEP):
            edits += self._note("banned phrase", self._cut_joined_phrase(final))
            violation = self._first_violation(final)
            if violation is None:
                return edits
            if not self._released_any and self._constraints.may_regenerate:
                return self._stop("regenerate", violation.kind, violation.hit.text)
            edited = self._edit_held(violation, final)
            if not edited:  # its sentence goes on: cut once its end is here
                return edits
            edits += self._note(violation.kind, edited)
        # a pathological flood of violations: stop rather than loop
        return self._stop(self._stop_action(), "edit limit", "")

    def _wait(self, edits: int) -> CheckStep:
        """Nothing could be released: check again when something can."""
        if len(self._held) > self.holdback_chars + _MAX_PADDING:
            return self._stop(self._stop_action(), "padded output", "")
        self._waiting = True
        return CheckStep(edits=edits, edited=self._take_edited())

    def _stop_action(self) -> str:
        return "block" if self._released_any else "regenerate"

    def _note(self, kind: str, edits: int) -> int:
        """Note that ``edits`` edits of ``kind`` were made; returns ``edits``."""
        if edits:
            self._edited[kind] = None
        return edits

    def _take_edited(self) -> tuple[str, ...]:
        edited, self._edited = tuple(self._edited), {}
        return edited

    def _stop(self, action: str, kind: str, detail: str, *, harm: str = "") -> CheckStep:
        reason = f"{kind}: {detail}" if detail else kind
        self._stopped = CheckStep(action=action, reason=reason, harm=harm)
        self._held = ""
        self._edited = {}
        return self._stopped

    # ------------------------------------------------------------ edits

    def _strip_opener(self, final: bool) -> int:
        """Strip the openers at the start ("Great question! Absolutely! ..."),
        each once it is whole (more text follows it, or the answer ended)."""
        stripped = self._held.lstrip()
        if len(stripped) != len(self._held):
            self._figure_open = None
        for done in range(_MAX_OPENERS):
            view = readable(stripped)
            match = rules.OPENER.match(view.text)
            if match is None or not (final or match.end() < len(view.text)):
                self._held = stripped
                return done
            end = view.end(match.end())
            # The marks closing a bold or italic opener ("**Great question!**"),
            # as many as opened it.
            opened = len(stripped) - len(stripped.lstrip(_EMPHASIS))
            rest = stripped[end:]
            closing = min(opened, len(rest) - len(rest.lstrip(_EMPHASIS)))
            stripped = rest[closing:].lstrip()
            self._figure_open = None
        self._held = stripped
        return _MAX_OPENERS

    def _held_view(self) -> Readable:
        held = self._held
        if self._view is None or self._view_of is not held:
            self._view, self._view_of = readable(held), held
        return self._view

    def _patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        found = [("banned phrase", rules.BANNED)]
        if self._constraints.no_buy_sell:
            found.append(("buy/sell recommendation", rules.BUY_SELL))
        if self._constraints.no_precise_figures:
            found.append(("precise figure", rules.FIGURE))
        return found

    def _first_violation(self, final: bool) -> _Violation | None:
        """The earliest complete match; one touching the end may still grow, so it waits."""
        view = self._held_view()
        seen = view.text
        best: tuple[str, int, int, bool] | None = None
        for kind, pattern in self._patterns():
            for match in pattern.finditer(seen):
                end = match.end()
                if kind == "precise figure":
                    end = _figure_end(seen, match)
                grows = not final and _may_grow(kind, seen, end)
                if grows and _kept(seen, match):
                    break
                if best is None or match.start() < best[1]:
                    best = (kind, match.start(), end, grows)
                break
        if best is None:
            return None
        kind, start, end = best[0], view.start(best[1]), view.end(best[2])
        return _Violation(kind, rules.Hit(start, end, self._held[start:end]), best[3])

    def _edit_held(self, violation: _Violation, final: bool) -> int:
        """Cut the violation's sentence or list item (``edit_span``); 0 when it
        is still open and the window can wait for its end."""
        held, hit = self._held, violation.hit
        if violation.kind == "precise figure":
            placeholder = self._placeholder()
            self._held = held[: hit.start] + placeholder + held[hit.end :]
            self._figure_open = hit.start + len(placeholder) if violation.runs_on else None
            return 1
        begin, stop = edit_span.unit(held, hit.start, hit.end, final=final)
        if stop is None and self._cut() <= begin:  # nothing of it would be released yet
            return 0
        if stop is None or (begin == 0 and self._released_mid_sentence()):
            begin, stop = edit_span.clause(held, begin, hit.start, hit.end, stop)
        self._held = held[:begin] + held[stop:]
        self._figure_open = None  # a fragment may be left, never other text taken
        self._head_cut = self._head_cut or begin == 0
        self._rewritten = True
        return 1

    def _placeholder(self) -> str:
        return self._constraints.figure_placeholder or rules.FIGURE_PLACEHOLDER

    def _join_rest_of_number(self) -> None:
        """The rest of a number replaced before it was whole, arrived since the
        last step, joins its placeholder; it stays open while it may go on.
        Only a placeholder an edit made, never one the model wrote."""
        at, held = self._figure_open, self._held
        if at is None:
            return
        placeholder = self._placeholder()
        rest = _REST_OF_NUMBER.match(held, at)
        if rest is None or held[max(at - len(placeholder), 0) : at] != placeholder:
            self._figure_open = None
            return
        self._held = held[:at] + held[rest.end() :]
        if rest.group().endswith("%") or not _may_grow("precise figure", self._held, at):
            self._figure_open = None

    def _cut_joined_phrase(self, final: bool) -> int:
        """After an edit took the start of the held text, the rest of it joins
        the released text, which is never edited again: "you can " | "always
        there for you, " | "count on me" would ship "you can count on me". The
        held part of a banned phrase across that boundary goes too, once it is
        whole (no match crossed it before the edit: the window was checked)."""
        before = self._context
        done = 0
        while self._head_cut and self._held:
            view = readable(before + self._held)
            joined = None
            for match in rules.BANNED.finditer(view.text):
                if view.start(match.start()) >= len(before):
                    break
                if view.end(match.end()) > len(before):
                    joined = match
                    break
            if joined is None or (joined.end() == len(view.text) and not final):
                break
            rest = self._held[view.end(joined.end()) - len(before) :]
            self._held = rest.lstrip(" \t") if before.endswith((" ", "\t")) else rest
            self._figure_open = None
            self._rewritten = True
            done += 1
        return done

    def _released_mid_sentence(self) -> bool:
        """Whether the released text ends inside a sentence or line (a forced
        cut), so the held text starts with the rest of it."""
        context = self._context
        body = context.rstrip()
        return (
            bool(context)
            and "\n" not in context[len(body) :]
            and _ENDS_SENTENCE.search(body) is None
        )

    def _edit_we(self, text: str) -> tuple[str, int]:
        view = readable(text)
        pieces: list[str] = []
        done = 0
        for match in rules.WE.finditer(view.text):
            self._we_seen += 1
            if self._we_seen <= rules.MAX_WE or not rules.WE_MODAL.match(view.text, match.start()):
                continue
            start, end = view.start(match.start()), view.end(match.end())
            pieces += [text[done:start], "You" if text[start].isupper() else "you"]
            done = end
        if not pieces:
            return text, 0
        edited = "".join([*pieces, text[done:]])
        if self._creates_banned(edited):  # "we can count on me" must not become banned
            return text, 0
        return edited, len(pieces) // 2

    def _creates_banned(self, edited: str) -> bool:
        """Whether a banned phrase would touch ``edited`` (the text about to be
        released, after the "we" edits), read with the released text before it
        and the held text after it: a forced cut can fall inside the phrase
        ("... and you can always " | "count on me"), and the held part is never
        edited again. No match touches it before the edit (the window was checked
        and keeps a whole match length after a cut), so any that does is the
        edit's."""
        before = self._context
        after = before + edited
        window = after + self._held
        view = readable(window)
        for match in rules.BANNED.finditer(view.text):
            if view.start(match.start()) >= len(after):
                break
            if view.end(match.end()) > len(before):
                return True
        return False

    # ------------------------------------------------------------ release

    def _cut(self) -> int:
        """Release whole sentences; force a cut only to keep the window bound."""
        held = self._held
        cut = 0
        for end in rules.SENTENCE_END.finditer(held):
            cut = end.end()
        if len(held) - cut <= self.holdback_chars:
            return cut
        # A partial match is never this long, in what a reader sees: text padded
        # with invisible characters or spaces keeps its last match length whole.
        view = self._held_view()
        tail = len(view.text) - rules.MAX_MATCH_CHARS
        high = min(len(held) - rules.MAX_MATCH_CHARS, view.start(tail) if tail > 0 else 0)
        low = high - (self.holdback_chars - rules.MAX_MATCH_CHARS)
        space = held.rfind(" ", max(low - 1, 0), high)
        return max(cut, space + 1 if space >= 0 else high)

    def _harm(self, candidate: str) -> str | None:
        """Harm in the text as released (the released tail, ``candidate``, the held
        text: what the reader gets, halves an edit joined), and, once an edit took
        something, in the text as written (what the edit took, in place: harm it
        held, or split so neither half is read with the other)."""
        if self._harm_check is None:
            return None
        harm = self._harm_check(self._context + candidate + self._held)
        if harm is not None or not self._rewritten:
            return harm
        return self._harm_check(self._written[-(2 * self.holdback_chars + len(self._held)) :])


def _figure_end(text: str, match: re.Match[str]) -> int:
    """Where the number a figure's match is part of ends (``_REST_OF_NUMBER``)."""
    if not match.group()[-1:].isdigit():
        return match.end()
    rest = _REST_OF_NUMBER.match(text, match.end())
    return rest.end() if rest is not None else match.end()


def _kept(text: str, match: re.Match[str]) -> bool:
    """Whether a forced cut keeps the match held (it keeps the last match length):
    a figure whose number runs on past that is replaced with what has arrived."""
    return match.start() >= len(text) - rules.MAX_MATCH_CHARS


def _may_grow(kind: str, text: str, end: int) -> bool:
    """Whether a match ending at ``end`` may still grow with more text."""
    rest = text[end:]
    return not rest or (kind == "precise figure" and len(rest) == 1 and rest in _FIGURE_GOES_ON)
