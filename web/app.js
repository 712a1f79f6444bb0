// NovaOS chat page: streams answers from POST /api/v1/chat/stream (SSE through
// Envoy), shows each gate decision, and handles acks, crisis, vetoes and errors.
// No inline script anywhere: the page runs under script-src 'self'.
import { readEvents } from "/sse.js";

const $ = (id) => document.getElementById(id);
// held: the draft at a refused token's sign-out, and whose it was (see signOut).
const state = { token: "", conversationId: "", controller: null, held: null };

const OUTCOME_CLASS = {
  OUTCOME_CONTROL: "crisis",
  OUTCOME_HARD_VETO: "veto",
  OUTCOME_ACK_REQUIRED: "ack",
  OUTCOME_OUTPUT_BLOCKED: "veto",
  OUTCOME_UPSTREAM_TRUNCATED: "warning",
  OUTCOME_CANCELLED: "warning",
  OUTCOME_FAILED: "error",
};

const OUTCOME_LABEL = {
  OUTCOME_COMPLETED: "completed",
  OUTCOME_CONTROL: "crisis support",
  OUTCOME_HARD_VETO: "refused",
  OUTCOME_ACK_REQUIRED: "needs acknowledgement",
  OUTCOME_OUTPUT_BLOCKED: "answer blocked",
  OUTCOME_UPSTREAM_TRUNCATED: "answer cut short",
  OUTCOME_CANCELLED: "cancelled",
  OUTCOME_FAILED: "failed",
};

function short(enumName, prefix) {
  return (enumName || "").replace(prefix, "").toLowerCase();
}

// ---- sign in ------------------------------------------------------------

// The token's subject, unverified: only to tell whose a held draft is.
function subjectOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return String(JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "="))).sub || "");
  } catch {
    return "";
  }
}

// A token as an authorization header carries it, as the CLI's --token takes it:
// printable ASCII. fetch refuses a line break or a non-Latin-1 letter (every send
// then failed as a "connection problem"); a space would reach the gateway as
// another token. One inside is a damaged copy (a wrapped terminal line), not
// something to guess at: refused here, naming its position, never echoing it.
function tokenProblem(token) {
  const index = [...token].findIndex((char) => char < "!" || char > "~");
  return index < 0 ? "" : `a token is printable ASCII without spaces; character ${index + 1} is not`;
}

function signIn(token) {
  const problem = tokenProblem(token.trim());
  if (problem) {
    sessionStorage.removeItem("novaos.token");  // one stored before this check
    showNotice("auth", `Not signed in: ${problem} (paste it as one line).`);
    return;
  }
  state.token = token.trim();
  if (!state.token) return;
  sessionStorage.setItem("novaos.token", state.token);
  $("token").value = "";  // else it waits on the sign-in screen for the next person
  clearNotice();  // "token refused" and the like were about the session that ended
  $("signin").hidden = true;
  $("chat").hidden = false;
  $("signout").hidden = false;
  $("session").textContent = "signed in";
  const held = state.held;
  state.held = null;
  if (held?.sub && held.sub === subjectOf(state.token)) giveBack(held.draft, state.token);
  giveBackUnsent();
  $("input").focus();
  resume(sessionStorage.getItem("novaos.conversation") || "");
}

// The draft a refused token left, for its own user only. The subject read here is
// unverified (anyone can write a token naming it), so the draft waits until the
// gateway accepts this token; then the subject is the token's own. Refused, or no
// answer: the draft is dropped. Returns whether it is back in the input.
async function giveBack(draft, token, notice = "") {
  const response = await fetch("/api/v1/conversations?page_size=1", {
    headers: { authorization: `Bearer ${token}` },
  }).catch(() => null);
  if (!response?.ok || state.token !== token) return false;  // or signed out meanwhile
  if ($("input").value) return false;
  $("input").value = draft;
  if (notice) showNotice("info", notice);
  return true;
}

// The message of a turn the gateway has kept nothing of yet (no answer text so far,
// or an acknowledgement still awaited), kept for the tab: the page left meanwhile
// (a reload), the gateway keeps nothing of it, so the conversation shown again
// lacks it, and it comes back to the input instead, for its own user only (see
// giveBack). Dropped once the gateway keeps the turn, or the message is back in
// the input, or at a sign-in that names another user; a refused token or an
// unreachable gateway keeps it for the next sign-in, reload or Retry.
const UNSENT_BACK =
  "Your last message had no answer yet, or waited for your acknowledgement, when the page " +
  "was left; nothing of it was kept, so it is back in the input.";

function holdUnsent(message) {
  sessionStorage.setItem("novaos.unsent", JSON.stringify({ sub: subjectOf(state.token), message }));
}

function dropUnsent() {
  sessionStorage.removeItem("novaos.unsent");
}

async function giveBackUnsent() {
  const raw = sessionStorage.getItem("novaos.unsent");
  if (!raw) return;
  let unsent = null;
  try {
    unsent = JSON.parse(raw);
  } catch {
    unsent = null;
  }
  if (!unsent?.sub || unsent.sub !== subjectOf(state.token)) {
    dropUnsent();  // someone else's
    return;
  }
  const back = await giveBack(unsent.message, state.token, UNSENT_BACK);
  // Not a message sent meanwhile, which took the slot over.
  if (back && sessionStorage.getItem("novaos.unsent") === raw) dropUnsent();
}

// A sign-out by hand forgets the conversation (the next person at this tab must
// not see it), the unsent draft (a refused message put back there too) and the
// last notice; a refused token (expired) keeps its id, like any failure but a 404,
// so signing in again shows it again. The gateway only shows a conversation to
// its own user; the draft, which it never saw, comes back only to a token for the
// same subject that the gateway accepts (someone else at this tab signing in next
// must not see it; see giveBack).
function signOut(message, { keepConversation = false } = {}) {
  const draft = $("input").value;
  state.held = keepConversation && draft ? { draft, sub: subjectOf(state.token) } : null;
  $("input").value = "";
  if (!keepConversation) clearNotice();
  // The stream stops with the session: else the next user waits for it (Send
  // disabled) and its late events land in their page and storage.
  state.controller?.abort();
  state.controller = null;
  setBusy(false);
  state.token = "";
  state.conversationId = "";
  dropRetry();  // no Retry of their conversation on the sign-in screen
  $("messages").replaceChildren();
  sessionStorage.removeItem("novaos.token");
  if (!keepConversation) {
    sessionStorage.removeItem("novaos.conversation");
    dropUnsent();
  }
  $("signin").hidden = false;
  $("chat").hidden = true;
  $("signout").hidden = true;
  $("session").textContent = message || "signed out";
}

// A reload keeps the conversation: its id is kept for the tab, and its turns
// (stored by the gateway) are shown again. Only a conversation that is gone
// (404: expired, deleted) is forgotten; any other failure (gateway restarting,
// network down, rate limited) keeps the id, says so, and a reload or Retry
// shows it once the gateway answers. A send meanwhile continues it.
// ``replace`` (Retry): the page may already show turns sent since the failure; the
// stored conversation holds them too, so it replaces them (not while a stream runs).
async function resume(conversationId, { replace = false } = {}) {
  if (!conversationId) return;
  state.conversationId = conversationId;
  const token = state.token;
  const response = await fetch(`/api/v1/conversations/${encodeURIComponent(conversationId)}`, {
    headers: { authorization: `Bearer ${token}` },
  }).catch(() => null);
  // Signed out meanwhile, or a send came first (it continues this id): nothing to show.
  const current = () =>
    state.conversationId === conversationId &&
    (replace ? !state.controller : !$("messages").children.length);
  if (!current()) return;
  if (response?.status === 404) {
    state.conversationId = "";
    sessionStorage.removeItem("novaos.conversation");
    return;
  }
  // A refused token (expired) signs out as a send's does, keeping the conversation
  // for the next sign-in: a Retry with it could never work.
  if (response?.status === 401) {
    const [kind, text] = await errorText(response);
    if (state.token !== token) return;  // signed out (or in again) meanwhile
    signOut("token refused", { keepConversation: true });
    showNotice(kind, text);
    return;
  }
  if (!response?.ok) {
    const why = response ? (await errorText(response))[1] : "connection problem";
    if (current()) showResumeFailed(conversationId, why.replace(/\.$/, ""));
    return;
  }
  const conversation = await response.json();
  if (!current()) return;
  $("messages").replaceChildren();
  for (const turn of conversation.turns || []) {
    const item = addMessage(turn.role, turn.text);
    // An answer that was cut or blocked says so again (turns stored before the
    // gateway kept how they ended have no outcome).
    if (turn.outcome && turn.outcome !== "OUTCOME_UNSPECIFIED") {
      showEnding(item, turn.outcome, turn.detail || "");
    }
  }
  // A very long conversation comes back as its newest turns only (a reply is
  // bounded to 4 MiB): the older ones are kept, just not shown.
  const omitted = Number(conversation.omitted_turns || 0);
  if (omitted) {
    const turns = omitted === 1 ? "1 earlier turn" : `${omitted} earlier turns`;
    showNotice("info", `${turns} of this long conversation are not shown; they are kept.`);
  }
}

function showResumeFailed(conversationId, why) {
  clearNotice();
  showNotice("error", `This conversation could not be loaded right now (${why}); it is kept. `);
  offerRetry(conversationId, why);
}

// Kept through sends (they continue the conversation) and the notices they bring (a
// refused send, a connection problem): Retry still shows its start.
function offerRetry(conversationId, why) {
  $("notice").dataset.resume = conversationId;
  $("notice").dataset.resumeWhy = why;
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "link";
  retry.textContent = "Retry";
  retry.addEventListener("click", () => {
    if (state.controller) return;  // after the answer on its way
    clearNotice();
    // Not after a sign-out, which forgets it.
    if (sessionStorage.getItem("novaos.conversation") === conversationId) {
      resume(conversationId, { replace: true });
      giveBackUnsent();  // kept while the gateway was unreachable
    }
  });
  $("notice").append(retry);
}

function rememberConversation(conversationId) {
  state.conversationId = conversationId;
  sessionStorage.setItem("novaos.conversation", conversationId);
}

// ---- rendering ----------------------------------------------------------

// Bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069) in network
// text would reorder what is shown around them ("evil.exe" shown as "exe.live"),
// and could carry on into the text after them: dropped, as the lens drops them from
// fetched pages. Every printable character (RTL letters, emoji) stays; each body's
// direction follows its own first strong letter (dir="auto").
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

function shown(text) {
  return String(text || "").replace(BIDI_CONTROLS, "");
}

function addMessage(role, text) {
  const item = document.createElement("li");
  item.className = `msg ${role}`;
  const body = document.createElement("div");
  body.className = "body";
  body.dir = "auto";
  body.textContent = shown(text);
  item.append(body);
  $("messages").append(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

// A long answer is followed while it arrives, unless the reader scrolled up.
function nearBottom(item) {
  return item.getBoundingClientRect().bottom <= window.innerHeight + 120;
}

function follow(item, wasNear) {
  if (wasNear) item.scrollIntoView({ block: "end" });
}

function addMeta(item, text) {
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = text;
  item.append(meta);
}

function addNote(item, text) {
  const note = document.createElement("div");
  note.className = "note";
  note.dir = "auto";
  note.textContent = shown(text);
  item.append(note);
}

function addGate(gate) {
  const decision = short(gate.decision, "GATE_DECISION_");
  const row = document.createElement("li");
  row.className = `gate ${decision}`;
  row.dataset.gate = gate.gate;
  row.title = gate.reason || "";
  const ms = Number(gate.latency_ms || 0).toFixed(1);
  row.textContent = `${gate.gate} · ${decision} · ${ms} ms`;
  $("gates").append(row);
}

function showNotice(kind, text) {
  const notice = $("notice");
  const { resume, resumeWhy } = notice.dataset;
  notice.className = `notice ${kind}`;
  notice.textContent = text;
  notice.hidden = false;
  if (resume) {
    notice.append(" This conversation's earlier turns could not be loaded; they are kept. ");
    offerRetry(resume, resumeWhy);
  }
}

function dropRetry() {
  delete $("notice").dataset.resume;
  delete $("notice").dataset.resumeWhy;
  $("notice").querySelector("button")?.remove();
}

function clearNotice() {
  dropRetry();
  $("notice").hidden = true;
  $("notice").textContent = "";
}

function showAck(item, ack, message, asked) {
  const box = document.createElement("div");
  box.className = "ack-box";
  const why = document.createElement("p");
  why.textContent = `This needs your acknowledgement (${shown(ack.reason) || "high stakes"}).`;
  const prompt = document.createElement("blockquote");
  prompt.dir = "auto";
  prompt.textContent = shown(ack.prompt);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "ack-button";
  button.textContent = "I understand — continue";
  // Enabled once this stream has ended (send's finally): clicked while it was still
  // open, it started a second stream beside the first.
  button.disabled = true;
  button.dataset.pending = "1";
  button.addEventListener("click", () => {
    if (state.controller) return;
    button.disabled = true;
    send(message, { token: ack.token, item, asked, button });
  });
  box.append(why, prompt, button);
  item.append(box);
}

// How an answer ended, as it streams and as a reload shows it again: its style, and
// why it ended so (cut at max_tokens, server shutting down, blocked after a sentence
// went out): the answer itself when none came, else a note under it. Not under
// crisis resources (a code such as control:self_harm helps no one there).
function showEnding(item, outcome, detail) {
  item.dataset.outcome = short(outcome, "OUTCOME_");
  const kind = OUTCOME_CLASS[outcome];
  if (kind) item.classList.add(kind);
  const body = item.querySelector(".body");
  if (detail && outcome !== "OUTCOME_CONTROL") {
    if (body.textContent) addNote(item, detail);
    else body.textContent = shown(detail);
  }
}

function finish(item, done) {
  const outcome = done.outcome || "OUTCOME_UNSPECIFIED";
  // The ack box already says why an acknowledgement is needed (the sentence comes in
  // the ack_required event only, never as answer text): no detail code beside it.
  const quoted = item.querySelector(".ack-box blockquote");
  showEnding(item, outcome, quoted ? "" : done.detail);
  const usage = done.usage || {};
  const tokens = Number(usage.input_tokens || 0) + Number(usage.output_tokens || 0);
  const stance = short(done.stance, "STANCE_");
  addMeta(item, `${OUTCOME_LABEL[outcome] || outcome} · ${stance} · ${tokens} tokens · ${done.request_id}`);
  if (done.spark && done.spark.action) {
    addMeta(item, `Next step (${done.spark.minutes} min): ${done.spark.action}`);
  }
}

// ---- errors -------------------------------------------------------------

const UNITS = {
  requests_per_minute: "per minute",
  tokens_per_minute: "tokens per minute",
  concurrency: "at a time",
};

async function errorText(response) {
  let status = {};
  try {
    status = await response.json();
  } catch {
    status = {};
  }
  const retry = response.headers.get("retry-after");
  const message = status.message || response.statusText;
  switch (response.status) {
    case 401:
      return ["auth", `Not signed in or token refused: ${message}`];
    case 403:
      return ["error", `Not allowed: ${message}`];
    case 429: {
      // x-ratelimit-limit is the limit that refused; ErrorInfo names which one.
      const limit = response.headers.get("x-ratelimit-limit");
      const info = (status.details || []).find((d) => String(d["@type"]).endsWith("ErrorInfo"));
      const unit = UNITS[info?.metadata?.limit] || "per minute";
      const wait = retry ? ` Try again in ${retry} s.` : "";
      return ["rate", `Rate limit reached${limit ? ` (${limit} ${unit})` : ""}.${wait}`];
    }
    case 503:
      return ["error", `Service unavailable: ${message}.${retry ? ` Retry in ${retry} s.` : ""}`];
    case 400:
      return ["error", `Request rejected: ${message}`];
    default:
      return ["error", `Error ${response.status}: ${message}`];
  }
}

// ---- the stream ---------------------------------------------------------

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
}

// ``ack``: this sends the acknowledgement given in an ack box ({token, item, asked,
// button}: the token, the box's answer and question, its button).
async function send(message, ack = null) {
  // What the last send said is over; a Retry offered for the conversation's start stays.
  const { resume, resumeWhy } = $("notice").dataset;
  if (resume) showResumeFailed(resume, resumeWhy);
  else clearNotice();
  $("gates").replaceChildren();
  const asked = ack ? null : addMessage("user", message);
  const item = addMessage("assistant", "");
  item.classList.add("streaming");
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  holdUnsent(message);
  // gated: a gate decision came, so the shield may have spent the ack token.
  const sent = { asked, message, ack, gated: false };
  try {
    await stream(item, sent, controller.signal);
  } catch (err) {
    if (err.name === "AbortError") {
      // Not a sign-out's abort: the next user must not find the message in the input.
      if (state.controller === controller) stopped(item, sent);
    } else if (!controller.signal.aborted) {
      // Envoy unreachable, or the connection lost before any answer: the gateway
      // keeps nothing of it (cancelled before any text), so neither does the list.
      if (unanswered(item)) takeBack(item, sent, { reusable: !sent.gated });
      else item.classList.add("error");
      showNotice("error", `Connection problem: ${err.message}`);
    }
  } finally {
    item.classList.remove("streaming");
    if (state.controller === controller) {  // not a stream begun since (after a sign-out)
      state.controller = null;
      setBusy(false);
      for (const button of document.querySelectorAll(".ack-button[data-pending]")) {
        delete button.dataset.pending;
        button.disabled = false;
      }
    }
  }
}

// Stopped by hand: after some text the gateway keeps the turn with it; before any
// it keeps nothing, so the message goes back as a refused one does. An
// acknowledgement's button works again only if no gate decided yet: after one,
// the shield may have spent its token (a click would be refused as "already
// used"), so its message goes back too, to be asked about again.
function stopped(item, sent) {
  if (unanswered(item)) {
    const reusable = !sent.gated;
    const back = takeBack(item, sent, { reusable });
    let where = "";  // an acknowledgement's: its box and button stay
    if (!(sent.ack && reusable)) {
      where = back ? " It is back in the input." : " It stays in the list, as the input holds a draft.";
    }
    showNotice("info", `Stopped before any answer: nothing of it was kept.${where}`);
  } else {
    item.classList.add("warning");
    addMeta(item, "stopped");
  }
}

// ``sent``: {asked, message, ack} as send has them.
async function stream(item, sent, signal) {
  const { asked, message, ack } = sent;
  const request = { message, conversation_id: state.conversationId, ack_token: ack?.token || "" };
  const response = await fetch("/api/v1/chat/stream", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${state.token}` },
    body: JSON.stringify(request),
    signal,
  });
  if (!response.ok) {
    const [kind, text] = await errorText(response);
    signal.throwIfAborted();  // stopped or signed out while the body was read
    // Refused at admission (a rate limit, unavailable): the pipeline never read an
    // ack token, so it still works; a 4xx refuses the token or the caller.
    const retryable = response.status === 429 || response.status >= 500;
    takeBack(item, sent, { reusable: retryable });
    if (response.status === 401) signOut("token refused", { keepConversation: true });
    showNotice(kind, text);  // after a sign-out: no Retry of the conversation under it
    return;
  }
  const body = item.querySelector(".body");
  let completed = null;
  for await (const event of readEvents(response.body)) {
    // Events already read when the stream was stopped (or its user signed out) are
    // dropped: none may reach the page or storage after the abort.
    signal.throwIfAborted();
    const wasNear = nearBottom(item);
    if (event.started) rememberConversation(event.started.conversation_id);
    else if (event.gate) {
      sent.gated = true;
      addGate(event.gate);
    }
    else if (event.delta) {
      body.textContent += shown(event.delta.text);
      dropUnsent();  // the gateway keeps what it released, even if stopped now
    } else if (event.ack_required) showAck(item, event.ack_required, message, asked);
    else if (event.completed) {
      completed = event.completed;
      if (!failedUnanswered(item, completed)) finish(item, completed);
      if (completed.outcome !== "OUTCOME_ACK_REQUIRED") dropUnsent();  // kept, or back
    }
    follow(item, wasNear);
    // event.keepalive: the stream is alive while text is held back (a slow model);
    // nothing to show. Unknown event kinds are ignored the same way.
  }
  signal.throwIfAborted();
  if (!completed) {
    item.classList.add("error");
    showNotice("error", "The stream ended without a final event.");
  } else if (failedUnanswered(item, completed)) {
    // The model unavailable ("Circuit open", "no provider could answer"): on a stream
    // that is HTTP 200 ending FAILED, before any text. The gateway kept none of it,
    // so it is refused as a 503 is.
    const wait = await probeWait(signal);
    signal.throwIfAborted();
    takeBack(item, sent);
    const why = (completed.detail || "failed").replace(/\.$/, "");
    showNotice("error", `Not answered: ${why}.${wait ? ` Retry in ${wait} s.` : ""}`);
  }
}

// Refused, or failed before any answer: the message was not delivered, so it leaves
// the list and goes back to the input to be sent again. An acknowledgement refused
// before the gateway read its token (a rate limit, unavailable) can be given again:
// its button works once this stream is over (send's finally); so can one stopped or
// cut by a connection problem before any gate decided (a token spent meanwhile is
// refused at the next click, and lands below). One whose token was spent (the
// shield let it through, then the model was unavailable, or a gate decided before
// a Stop) or refused cannot: its whole exchange leaves and the message goes back,
// to be asked about again when sent.
// ``reusable``: the gateway never read the ack token.
// A draft typed meanwhile is never overwritten: the message then stays in the list,
// marked "not kept", to be read and copied, and stays the unsent one, so a reload
// before the next send still gives it back. Returns whether it went to the input.
function takeBack(item, { asked, message, ack }, { reusable = false } = {}) {
  item.remove();
  if (ack && reusable) {
    ack.button.dataset.pending = "1";  // still awaited: kept as unsent
    return false;
  }
  const question = ack ? ack.asked : asked;
  ack?.item.remove();
  if (question && $("input").value) {
    question.classList.add("warning");
    addMeta(question, "not kept");
    return false;
  }
  dropUnsent();
  question?.remove();
  if (question) $("input").value = message;
  return Boolean(question);
}

// Nothing of an answer shown yet: no text, no ack box, no ending.
function unanswered(item) {
  const body = item.querySelector(".body");
  return !body.textContent && !item.querySelector(".ack-box") && !item.dataset.outcome;
}

// A FAILED ending after released text is an answer cut short, and stays as one.
function failedUnanswered(item, done) {
  return done.outcome === "OUTCOME_FAILED" && !Number(done.released_chars || 0) && unanswered(item);
}

// A stream's failure carries no Retry-After: the circuits view says when the first
// open breaker lets a request through, timed by the answer's Date (not this clock).
async function probeWait(signal) {
  try {
    const response = await fetch("/api/v1/health/circuits", { signal });
    const now = Date.parse(response.headers.get("date") || "") / 1000;
    const { circuits = [] } = response.ok ? await response.json() : {};
    const waits = circuits.map((c) => Number(c.retry_at_unix || 0) - now).filter((s) => s > 0);
    return waits.length ? Math.ceil(Math.min(...waits)) : 0;
  } catch (err) {
    if (err.name === "AbortError") throw err;
    return 0;  // unknown: the notice gives no time
  }
}

// ---- wiring -------------------------------------------------------------

function init() {
  const devToken = document.querySelector('meta[name="novaos-dev-token"]')?.content || "";
  if (devToken && !devToken.startsWith("{{")) {
    $("dev-token").hidden = false;
    $("dev-token").addEventListener("click", () => signIn(devToken));
  }
  $("use-token").addEventListener("click", () => signIn($("token").value));
  $("signout").addEventListener("click", () => signOut());
  $("stop").addEventListener("click", () => state.controller?.abort());
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const message = $("input").value.trim();
    if (!message || state.controller) return;
    $("input").value = "";
    send(message);
  });
  $("input").addEventListener("keydown", (event) => {
    // Enter that picks an IME candidate (Japanese, Chinese, Korean input) ends the
    // composition, not the message; Safari reports it only by keyCode 229.
    if (event.isComposing || event.keyCode === 229) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  const saved = sessionStorage.getItem("novaos.token");
  if (saved) signIn(saved);
}

init();
