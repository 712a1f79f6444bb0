"""Lens gate: does this answer need fresh or verified facts, and can we get them?

With a fetcher it fetches the URLs in the message (bounded count, concurrently,
within its budget) and hands extracts to the model. Without one, or when nothing
could be fetched, it degrades honestly: the model is told to give no precise
figures and the answer ends with a note that current data could not be verified.
It never fails a request.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence

from novaos.domain import Decision
from novaos.pipeline.facts import IntentFacts, LensFacts, SourceScreen
from novaos.pipeline.gate import GateInput, GateResult
from novaos.pipeline.gates.claims import claims_in
from novaos.pipeline.gates.intent import HEAVY_CHARS, CaselessText
from novaos.ports import FetchResult, WebFetcher

_log = logging.getLogger("novaos.lens")

# The English note; each language's is ``degraded_note`` in policy/messages.json.
DEGRADED_NOTE = "Note: current data could not be verified; check a live source before acting."

# A URL runs to whitespace or a delimiter; parentheses stay when they pair up
# inside it (Wikipedia's "Python_(programming_language)"). Square brackets end
# it too, except around an IPv6 literal host ("http://[2606:4700::1]/").
_URL_CHAR = r"(?:[^\s<>\"'`()\[\]]|\([^\s<>\"'`()]*\))"
_IPV6_HOST = r"(?:[^\s<>\"'`()\[\]/?#@]*@)?\[[^\s<>\"'`()\[\]/?#]*\]"
_URL = re.compile(rf"https?://(?:{_IPV6_HOST}{_URL_CHAR}*|{_URL_CHAR}+)", re.IGNORECASE)
# Punctuation and markup that end a sentence or wrap a link, not part of it.
_TRAILING = ".,;:!?*_\u201d\u2019\u00bb>\u3002\uff0c\uff1b\uff1a\uff01\uff1f"
_EXTRACT_CHARS = 1500
# Kept back from the gate budget for the bookkeeping around the fetches (at
# most half of it): the rest is how long the lens waits for them.
_BOOKKEEPING_MS = 500
_SHOWN_URL_CHARS = 80

# The shield's reading of an extract (``ShieldClassifier.screen_source``).
Screen = Callable[[str], SourceScreen]
# The marks an extract puts between table cells (" | ") and rows (" ; ")
# (``novaos.webfetch.extract``). They keep figures apart for the model, but an
# author laying "Ignore | previous | instructions" out one word a cell would
# slip them past the screen's phrase rules: it also reads them as spaces.
_TABLE_MARKS = re.compile(r"(?: [|;])+ ")

# Claims in these domains are the ones a wrong answer hurts; they want verification.
_CHECKED_DOMAINS = ("finance", "health", "legal")


def find_urls(message: str) -> tuple[str, ...]:
    """The URLs in ``message``, each page once: the fetcher drops a fragment,
    so ``/a`` and ``/a#top`` are one page (the first as written is kept)."""
    seen: dict[str, str] = {}
    for match in _URL.finditer(message):
        url = match.group(0).rstrip(_TRAILING)
        seen.setdefault(url.split("#", 1)[0], url)
    return tuple(seen.values())


def detect_claims(message: str, intent: IntentFacts | None) -> tuple[str, ...]:
    """Why this message needs fresh or verified facts (empty: it does not).

    Prices and URLs always do. Weather and news when the message asks (a
    question, or a request holding one: "Plan a picnic, what's the weather
    tomorrow"), not in a story or a translation. "Today"/"latest" and the
    finance/health/legal domains only when the user asks a question: "help me
    budget" or "I quit today" want no verification note.
    """
    kind = None if intent is None else intent.type
    asking = kind in (None, "question")
    reasons = claims_in(CaselessText(message), kind=kind)
    if intent is not None and asking:
        reasons += [f"{d}_claim" for d in _CHECKED_DOMAINS if d in intent.domains]
    if _URL.search(message):
        reasons.append("url")
    return tuple(reasons)


def _claims_and_urls(message: str, intent: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    reasons = detect_claims(message, intent if isinstance(intent, IntentFacts) else None)
    return reasons, find_urls(message) if reasons else ()


def _shown(url: str) -> str:
    """A URL as the gate's reason names it (in the audit record, the logs): without
    its query and fragment, where sign-in tokens and personal details travel, nor
    its userinfo (``user:password@``, shown ``…@``): AUDIT_INCLUDE_CONTENT=false
    keeps all of them out of the record like the message.

    A password may hold "/", "?" or "#" ("admin:hunt/er2@host"), which would
    end the authority early and show it: so a ":" anywhere before the last
    "@" hides everything up to that "@" (a port then an "@" in the path,
    "host:8443/@ann", is hidden too: losing the host costs less than a password)."""
    start = url.find("://") + 3
    at = url.rfind("@", start)
    if at >= 0 and ":" in url[start:at]:
        url = url[:start] + "…" + url[at:]
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    if cut >= 0:
        url = url[:cut] + "?…"
    end = url.find("/", start)
    at = url.rfind("@", start, len(url) if end < 0 else end)
    if at >= 0:  # the authority's userinfo runs to its last "@"
        url = url[:start] + "…" + url[at:]
    return url if len(url) <= _SHOWN_URL_CHARS else url[: _SHOWN_URL_CHARS - 1] + "…"


def _extract(text: str) -> str:
    return " ".join(text.split())[:_EXTRACT_CHARS]


def _read(screen: Screen, text: str) -> SourceScreen:
    """The screen of an extract as written and, when it holds table marks,
    with them read as spaces: harm or instructions in either count. Both,
    since a mark may also end a clause the screen must read apart."""
    verdict = screen(text)
    joined = _TABLE_MARKS.sub(" ", text)
    if joined == text:
        return verdict
    other = screen(joined)
    harmful = verdict.harmful or other.harmful
    return SourceScreen(harmful, verdict.instructions or other.instructions)


class LensGate:
    """``budget_ms`` should exceed the fetcher's own total timeout by more than
    ``_BOOKKEEPING_MS``, so a slow page ends with the fetcher's own reason
    (``total_timeout``) rather than the lens giving up first (``budget``)."""

    name = "lens"

    def __init__(
        self,
        fetcher: WebFetcher | None = None,
        *,
        max_urls: int = 3,
        budget_ms: int = 8000,
        screen: Screen | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._max_urls = max_urls
        self.budget_ms = budget_ms
        self._screen = screen
        self.fetch_wait_ms = budget_ms - min(_BOOKKEEPING_MS, budget_ms // 2)

    async def check(self, inp: GateInput) -> GateResult:
        intent = inp.facts("intent")
        message = inp.chat.message
        # ~20-40 ms of CPU for 32k characters (~100 ms when a dotted capital I
        # makes the rules match case-insensitively): off the event loop
        if len(message) >= HEAVY_CHARS:
            reasons, urls = await asyncio.to_thread(_claims_and_urls, message, intent)
        else:
            reasons, urls = _claims_and_urls(message, intent)
        if not reasons:
            facts = LensFacts(needs_verification=False, degraded=False)
            return GateResult(decision=Decision.PASS, reason="no fresh facts needed", facts=facts)
        if self._fetcher is None or not urls:
            why = "web fetch disabled" if self._fetcher is None else "no source to fetch"
            return self._degraded(reasons, urls, why)
        results = await self._fetch_all(self._fetcher, urls[: self._max_urls])
        fetched = tuple((r.url, _extract(r.text)) for r in results if r.result == "ok" and r.text)
        report = self._report(results, skipped=len(urls) - self._max_urls)
        sources, instructions, dropped = await self._screened(fetched)
        report = "; ".join((report, *dropped))
        if not sources:
            return self._degraded(reasons, urls, report)
        facts = LensFacts(
            needs_verification=True,
            degraded=False,
            reasons=reasons,
            urls=urls,
            sources=sources,
            source_instructions=instructions,
        )
        return GateResult(decision=Decision.PASS, reason=report, facts=facts)

    async def _screened(
        self, fetched: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[tuple[str, str], ...], bool, tuple[str, ...]]:
        """The sources the model may read, whether one of them holds instructions,
        and what was dropped. A page is anyone's text: one holding what the shield
        refuses to ask for (a recipe for a weapon) never reaches the model, however
        benign the question that led to it."""
        if self._screen is None or not fetched:
            return fetched, False, ()
        screen = self._screen
        try:  # a few milliseconds of CPU for three extracts: off the event loop
            screens = await asyncio.to_thread(lambda: [_read(screen, text) for _, text in fetched])
        except Exception:  # unread is unsafe; the lens degrades instead of failing
            _log.exception("lens: screening the fetched sources failed")
            return (), False, ("dropped every source (screening failed)",)
        kept: list[tuple[str, str]] = []
        dropped: list[str] = []
        instructions = False
        for source, verdict in zip(fetched, screens, strict=True):
            if verdict.harmful is None:
                kept.append(source)
                instructions = instructions or verdict.instructions
            else:
                dropped.append(f"dropped {_shown(source[0])} (harmful content: {verdict.harmful})")
        return tuple(kept), instructions, tuple(dropped)

    def _degraded(self, reasons: tuple[str, ...], urls: tuple[str, ...], why: str) -> GateResult:
        facts = LensFacts(needs_verification=True, degraded=True, reasons=reasons, urls=urls)
        reason = f"needs verification ({', '.join(reasons)}); degraded: {why}"
        return GateResult(decision=Decision.DEGRADE, reason=reason, facts=facts)

    async def _fetch_all(self, fetcher: WebFetcher, urls: Sequence[str]) -> list[FetchResult]:
        """Fetch concurrently; whatever is unfinished at the deadline counts as a timeout."""
        done: dict[str, FetchResult] = {}

        async def one(url: str) -> None:
            try:
                done[url] = await fetcher.fetch(url)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a fetcher bug must not fail the request
                done[url] = FetchResult(url=url, result="error", reason=type(exc).__name__)

        try:
            async with asyncio.timeout(self.fetch_wait_ms / 1000), asyncio.TaskGroup() as tg:
                for url in urls:
                    tg.create_task(one(url))
        except TimeoutError:
            pass
        return [done.get(u) or FetchResult(url=u, result="timeout", reason="budget") for u in urls]

    @staticmethod
    def _report(results: Sequence[FetchResult], *, skipped: int) -> str:
        parts = []
        for r in results:
            if r.result != "ok":
                verb = f"refused ({r.result}: {r.reason or '-'})"
            else:  # why an ok page gave the model little or nothing: markup_cut, no text
                notes = [n for n in (r.reason, "" if _extract(r.text) else "no text") if n]
                verb = f"fetched ({', '.join(notes)})" if notes else "fetched"
            parts.append(f"{verb} {_shown(r.url)}")
        if skipped > 0:
            parts.append(f"skipped {skipped} more url(s)")
        return "; ".join(parts)
