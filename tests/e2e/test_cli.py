"""The `novaos` command against a real server: chat streams text and exits by outcome;
audit lists, verifies and watches the log with an admin token."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import jwt
import pytest

from generated.novaos.v1 import audit_pb2_grpc, chat_pb2, chat_pb2_grpc
from tests.fixtures.common import wait_until
from tests.fixtures.fake_providers import Cut, Reply, StartServer
from tests.fixtures.provider_wire import openai_stream
from tests.fixtures.server import BASE_ENV, ROOT, TEST_SECRET, Subprocess, mint, running_app


def _novaos(
    *args: str | bytes, env: dict[str, str] | None = None, python: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``python``: interpreter options before ``-m novaos`` (``-X importtime``)."""
    return subprocess.run(
        [sys.executable, *python, "-m", "novaos", *args],
        cwd=ROOT,
        env={**BASE_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _start_novaos(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "novaos", *args],
        cwd=ROOT,
        env=BASE_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_chat_streams_text_and_exits_by_outcome(spawn_server: Callable[..., Subprocess]) -> None:
    srv = spawn_server()
    target = f"127.0.0.1:{srv.port}"
    ok = _novaos("chat", "help me plan my week", "--target", target, "--token", mint())
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.split()) > 5
    assert "[shield: pass]" in ok.stderr and "[completed;" in ok.stderr
    assert "\x1b" not in ok.stderr  # stderr is a pipe here: no colour codes
    # The answer's last line ends on stdout, not with a blank line on stderr.
    assert ok.stdout.endswith("\n") and "" not in ok.stderr.splitlines(), (ok.stdout, ok.stderr)
    crisis = _novaos("chat", "I want to kill myself", "--target", target, "--token", mint("bob"))
    assert crisis.returncode == 3
    assert "988" in crisis.stdout and crisis.stdout.endswith("\n")
    assert "" not in crisis.stderr.splitlines(), crisis.stderr
    denied = _novaos("chat", "hello", "--target", target, "--token", "garbage")
    assert denied.returncode == 1, denied.stderr
    assert denied.stderr.startswith("error: UNAUTHENTICATED: "), denied.stderr  # no blank line


def test_chat_reads_the_message_from_stdin_given_as_dash(
    spawn_server: Callable[..., Subprocess],
) -> None:
    srv = spawn_server()
    target = ["--target", f"127.0.0.1:{srv.port}", "--token", mint("stdin")]
    run = [sys.executable, "-m", "novaos", "chat", "-", *target]
    piped = subprocess.run(
        run, cwd=ROOT, env=BASE_ENV, input=b"I want to kill myself\n", capture_output=True,
        timeout=60, check=False,
    )  # fmt: skip
    # The message was read (a crisis answer), not the text "-".
    assert piped.returncode == 3, piped.stderr
    assert b"988" in piped.stdout
    broken = subprocess.run(
        run, cwd=ROOT, env=BASE_ENV, input=b"caf\xe9", capture_output=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert broken.returncode == 2
    assert b"message: stdin is not UTF-8 text (byte 4)" in broken.stderr, broken.stderr


# An answer that outlasts any test (5000 tokens at 20 ms): only a cancel ends it early.
ENDLESS = {
    "MOCK_RESPONSE_TOKENS": "5000", "DEFAULT_MAX_TOKENS": "5000", "MOCK_TOKEN_DELAY_MS": "20"
}  # fmt: skip


def _outcomes(directory: Path) -> list[str]:
    return [json.loads(line)["outcome"] for line in _records(directory)]


def _endless_chat(
    spawn_server: Callable[..., Subprocess], directory: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    """`novaos chat` streaming an answer that goes on, audited into ``directory``."""
    srv = spawn_server(AUDIT_STORAGE_TYPE="file", AUDIT_FILE_PATH=str(directory), **ENDLESS)
    target = f"127.0.0.1:{srv.port}"
    return _start_novaos("chat", "a long story", "--target", target, "--token", mint()), directory


def test_chat_into_a_closed_pipe_ends_quietly_and_cancels_the_call(
    spawn_server: Callable[..., Subprocess], tmp_path: Path
) -> None:
    chat, directory = _endless_chat(spawn_server, tmp_path / "audit")
    assert chat.stdout
    assert chat.stdout.read(10)  # `| head -c 10`: read a little, then go away
    chat.stdout.close()
    err = chat.communicate(timeout=30)[1].decode()
    assert chat.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    wait_until(lambda: _outcomes(directory) == ["cancelled"], what="the call audited cancelled")


def test_ctrl_c_in_chat_exits_130_quietly_and_cancels_the_call(
    spawn_server: Callable[..., Subprocess], tmp_path: Path
) -> None:
    chat, directory = _endless_chat(spawn_server, tmp_path / "audit")
    assert chat.stdout
    first = chat.stdout.read(1)  # the answer is streaming
    chat.send_signal(signal.SIGINT)
    out, err_bytes = chat.communicate(timeout=30)
    err = err_bytes.decode()
    assert chat.returncode == 130, err
    assert (first + out).endswith(b"\n")  # the shell's prompt gets a line of its own
    assert "Traceback" not in err and "Error" not in err, err
    wait_until(lambda: _outcomes(directory) == ["cancelled"], what="the call audited cancelled")


# Put on PYTHONPATH as sitecustomize: the first `import asyncio` (novaos.cli's)
# says so in a file and waits there, so a test's Ctrl-C lands inside the imports.
_STALL_ASYNCIO = """
import os, sys, time

class _Stall:
    def find_spec(self, name, path=None, target=None):
        if name == "asyncio":
            sys.meta_path.remove(self)
            with open(os.environ["STALL_MARK"], "w"):
                pass
            time.sleep(60)
        return None

sys.meta_path.insert(0, _Stall())
"""


def test_ctrl_c_while_the_command_loads_exits_130_quietly(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(_STALL_ASYNCIO)
    mark = tmp_path / "importing"
    env = {**BASE_ENV, "PYTHONPATH": f"{tmp_path}:{ROOT}", "STALL_MARK": str(mark)}
    chat = subprocess.Popen(
        [sys.executable, "-m", "novaos", "chat", "hi", "--target", "127.0.0.1:1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    wait_until(lambda: mark.exists() or chat.poll() is not None, what="import asyncio")
    chat.send_signal(signal.SIGINT)
    out, err = chat.communicate(timeout=30)
    assert (chat.returncode, out, err) == (130, b"", b"")


class _HangingAudit(audit_pb2_grpc.AuditServiceServicer):
    """Answers no call: each waits until its client cancels it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.cancelled = threading.Event()

    def _hang(self, context: grpc.ServicerContext) -> None:
        context.add_callback(self.cancelled.set)
        self.entered.set()
        self.cancelled.wait(timeout=60)
        context.abort(grpc.StatusCode.UNAVAILABLE, "the test ended")

    def ListAuditEvents(self, request: object, context: grpc.ServicerContext) -> None:
        self._hang(context)

    def VerifyAuditChain(self, request: object, context: grpc.ServicerContext) -> None:
        self._hang(context)


def test_ctrl_c_in_audit_list_and_verify_exits_130_quietly_and_cancels_the_call() -> None:
    for verb in ("list", "verify"):
        hanging = _HangingAudit()
        server = grpc.server(ThreadPoolExecutor(max_workers=2))
        audit_pb2_grpc.add_AuditServiceServicer_to_server(hanging, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            audit = _start_novaos("audit", verb, "--target", f"127.0.0.1:{port}")
            assert hanging.entered.wait(timeout=30), verb  # the call is in flight
            audit.send_signal(signal.SIGINT)
            out, err = audit.communicate(timeout=30)
            assert (audit.returncode, out, err) == (130, b"", b""), verb
            assert hanging.cancelled.wait(timeout=30), verb
        finally:
            server.stop(grace=None)


class _ScriptedChat(chat_pb2_grpc.ChatServiceServicer):
    """Streams the given events, then ends with ``error`` (a status and message) if any."""

    def __init__(
        self,
        events: list[chat_pb2.StreamChatResponse],
        error: tuple[grpc.StatusCode, str] | None = None,
    ) -> None:
        self.events, self.error = events, error
        self.seen: list[str | bytes] = []  # each call's authorization header

    def StreamChat(
        self, request: object, context: grpc.ServicerContext
    ) -> Iterator[chat_pb2.StreamChatResponse]:
        self.seen.append(dict(context.invocation_metadata()).get("authorization", ""))
        yield from self.events
        if self.error:
            context.abort(*self.error)


@contextlib.contextmanager
def _chat_server(servicer: _ScriptedChat) -> Iterator[str]:
    """A ChatService that plays ``servicer``'s script; yields its target."""
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    chat_pb2_grpc.add_ChatServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def _delta(text: str) -> chat_pb2.StreamChatResponse:
    return chat_pb2.StreamChatResponse(delta=chat_pb2.Delta(text=text))


def _gate(gate: str) -> chat_pb2.StreamChatResponse:
    decision = chat_pb2.GATE_DECISION_PASS
    return chat_pb2.StreamChatResponse(gate=chat_pb2.GateEvent(gate=gate, decision=decision))


def _completed(outcome: int, detail: str = "") -> chat_pb2.StreamChatResponse:
    done = chat_pb2.Completed(outcome=outcome, detail=detail, conversation_id="conv_1")  # type: ignore[arg-type]
    return chat_pb2.StreamChatResponse(completed=done)


# What a terminal obeys rather than shows: colour, a title (OSC 0), clear screen, a
# hyperlink (OSC 8), a clipboard write (OSC 52), 8-bit CSI, a backspace, a bell.
HOSTILE = (
    "Look \x1b[31mred\x1b[0m and \x1b]0;pwned\x07 title, clear \x1b[2J screen, "
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ \x1b]52;c;cm0gLXJmIH4=\x07copy "
    "\x9b2J8bit\x08\x07\r done.\n"
    "Run \u202eexe.live\u202c or \u2067this\u2069.\n"  # bidi overrides: "evil.exe" shown
)
KEPT = "Hello \u200fשלום עולם, مرحبا 👋🏽 👨\u200d👩\u200d👧 café 日本語\tend.\nLine two\n"


def test_chat_shows_no_control_sequence_from_the_network() -> None:
    ack = chat_pb2.AckRequired(token="tok\x1b[2J", prompt="I accept\x1b]0;x\x07 the risk")
    script = _ScriptedChat(
        [
            _delta(HOSTILE),
            _delta(KEPT),
            chat_pb2.StreamChatResponse(ack_required=ack),
            _gate("shield\x1b[2J"),
        ],
        error=(grpc.StatusCode.INTERNAL, "boom \x1b]0;owned\x07 here"),
    )
    with _chat_server(script) as target:
        for env in ({}, {"NO_COLOR": "1"}):
            run = _novaos("chat", "hi", "--target", target, env=env)
            assert run.returncode == 1, run.stderr
            for stream in (run.stdout, run.stderr):
                assert not [c for c in stream if ord(c) < 32 and c not in "\n\t"], stream
                assert not [c for c in stream if 0x7F <= ord(c) <= 0x9F], stream
            assert run.stdout == (
                "Look red and  title, clear  screen, link copy 8bit done.\n"
                "Run exe.live or this.\n" + KEPT
            )
            assert "acknowledge: I accept the risk\n" in run.stderr
            assert "--ack tok\n" in run.stderr and "[shield: pass]" in run.stderr
            assert run.stderr.endswith("error: INTERNAL: boom  here\n"), run.stderr


def test_a_gate_line_after_the_text_starts_a_line_of_its_own() -> None:
    # personality decides after the last sentence, then a required note, then spark.
    answer, note = "An answer that ends here.", "\n\nA required note."
    script = _ScriptedChat(
        [
            _delta(answer),
            _gate("personality"),
            _delta(note),
            _gate("spark"),
            _completed(chat_pb2.OUTCOME_COMPLETED),
        ]
    )
    with _chat_server(script) as target:
        args = (sys.executable, "-m", "novaos", "chat", "hi", "--target", target)
        # One pipe for both, as a terminal shows them: each line where it lands.
        both = subprocess.run(
            args, cwd=ROOT, env=BASE_ENV, capture_output=False, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=60, check=False,
        )  # fmt: skip
        apart = _novaos("chat", "hi", "--target", target)
    assert both.returncode == 0, both.stdout
    assert both.stdout == (
        "An answer that ends here.\n[personality: pass]\n"
        "\nA required note.\n[spark: pass]\n[completed; conv_1]\n"
    )
    assert apart.stdout == answer + note + "\n"  # the answer as sent, its line ended
    assert apart.stderr == "[personality: pass]\n[spark: pass]\n[completed; conv_1]\n"


def _run_redirected(
    *args: str, redirect: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """``novaos *args`` with stdout redirected by the shell (``>/dev/full``, ``>&-``)."""
    run = subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-m", "novaos", *args],
        cwd=ROOT, env={**BASE_ENV, **(env or {})}, stderr=subprocess.PIPE, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    return run.returncode, run.stderr


def test_output_that_cannot_be_written_is_one_error_line_not_a_traceback() -> None:
    script = _ScriptedChat([_delta("An answer.\n"), _completed(chat_pb2.OUTCOME_COMPLETED)])
    full = "error: cannot write to stdout: No space left on device\n"
    closed = "error: stdout is closed\n"
    with _chat_server(script) as target:
        assert _run_redirected("chat", "hi", "--target", target, redirect=">/dev/full") == (1, full)
        assert _run_redirected("token", "--sub", "al", redirect=">/dev/full") == (1, full)
        assert _run_redirected("chat", "hi", "--target", target, redirect=">&-") == (1, closed)
        assert _run_redirected("audit", "list", "--target", target, redirect=">&-") == (1, closed)
        assert _run_redirected("token", "--sub", "al", redirect=">&-") == (1, closed)
        # No stderr (2>&-): the answer still comes, its notes go nowhere.
        quiet = subprocess.run(
            [sys.executable, "-m", "novaos", "chat", "hi", "--target", target],
            cwd=ROOT, env=BASE_ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, timeout=60, check=False, preexec_fn=lambda: os.close(2),
        )  # fmt: skip
        assert (quiet.returncode, quiet.stdout) == (0, "An answer.\n")


def test_chat_replaces_what_the_output_encoding_cannot_hold() -> None:
    script = _ScriptedChat([_delta("café 👋 日本\n"), _completed(chat_pb2.OUTCOME_COMPLETED)])
    with _chat_server(script) as target:
        run = subprocess.run(
            [sys.executable, "-m", "novaos", "chat", "hi", "--target", target],
            cwd=ROOT, env={**BASE_ENV, "PYTHONIOENCODING": "latin-1"}, capture_output=True,
            timeout=60, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode("latin-1") == "café ? ??\n" and b"Traceback" not in run.stderr


def test_chat_strips_the_line_break_of_a_pasted_token() -> None:
    script = _ScriptedChat([_completed(chat_pb2.OUTCOME_COMPLETED)])
    with _chat_server(script) as target:
        for pasted in ("tok.en-1_x\n", " tok.en-1_x\r\n"):
            run = _novaos("chat", "hi", "--target", target, "--token", pasted)
            assert (run.returncode, run.stdout) == (0, ""), run.stderr
    assert script.seen == ["Bearer tok.en-1_x"] * 2


def test_the_ack_hint_is_a_resend_that_works(spawn_server: Callable[..., Subprocess]) -> None:
    srv = spawn_server()
    asked = ("chat", "I'm going to put my entire life savings into bitcoin tomorrow")
    user = ("--target", f"127.0.0.1:{srv.port}", "--token", mint("carol", "pro"))
    first = _novaos(*asked, *user)
    assert first.returncode == 3, first.stderr
    # The sentence is the user's to acknowledge, not the assistant's answer.
    assert first.stdout == "", first.stdout
    assert "acknowledge: I understand" in first.stderr, first.stderr
    (hint,) = [line for line in first.stderr.splitlines() if line.startswith("resend ")]
    options = hint.split(" with ", 1)[1].split()
    assert "--ack" in options, hint
    resent = _novaos(*asked, *user, *options)  # exactly as the hint says
    assert resent.returncode == 0, resent.stderr
    assert "[completed;" in resent.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "list", "--start-time", "0001-01-01T00:00:00+01:00"],  # year 0 in UTC
        ["audit", "list", "--start-time", "1960-01-01T00:00:00Z"],  # the server: 1970 on
        ["audit", "list", "--end-time", "1970-01-01T00:30:00+01:00"],  # 1969 in UTC
        ["audit", "list", "--end-time", "9999-12-31T23:59:59-01:00"],  # year 10000 in UTC
        ["audit", "list", "--page-size", "99999999999"],  # past int32
        ["audit", "list", "--page-size", "-1"],
        ["audit", "list", "--after-seq", "-1"],
        ["audit", "list", "--after-seq", "99999999999999999999999"],  # past int64
        ["audit", "verify", "--from-seq", "99999999999999999999999"],  # past int64
        # Filters no record can match: they went to the server (INVALID_ARGUMENT, exit 1).
        ["audit", "list", "--outcome", "bogus"],
        ["audit", "list", "--stance", "nonsense"],
        ["audit", "list", "--gate-decision", "shieldstop"],
        ["audit", "list", "--gate-decision", "shield:nope"],
        ["audit", "list", "--gate-decision", "nogate:stop"],
        ["audit", "verify", "--to-seq", "-1"],
        [b"chat", b"caf\xe9"],  # Latin-1 bytes under a UTF-8 locale
        [b"chat", b"hi", b"--token", b"\xff"],
        [b"audit", b"list", b"--user", b"caf\xe9"],
        # Tokens no gRPC header can carry: not ASCII, a space or a control inside.
        *(
            [*verb, "--token", bad]
            for verb in (["chat", "hi"], ["audit", "list"], ["audit", "verify"], ["audit", "watch"])
            for bad in ("tökén", "abc def", "abc\x01def", "abc\ndef")
        ),
    ],
)
def test_arguments_a_call_cannot_carry_are_usage_errors(args: list[str] | list[bytes]) -> None:
    # Rejected before any connection: the target does not exist.
    run = _novaos(*args, "--target", "127.0.0.1:1")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1].startswith("novaos "), run.stderr
    assert ": error: argument " in run.stderr.splitlines()[-1], run.stderr


_VERBS = (["chat", "hi"], ["audit", "list"], ["audit", "verify"], ["audit", "watch"])


@pytest.mark.parametrize("verb", _VERBS)
def test_a_target_port_past_65535_is_a_usage_error_not_another_port(verb: list[str]) -> None:
    # gRPC took the port modulo 65536: 127.0.0.1:(P + 65536) dialled P, token and all.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        wrapped = f"127.0.0.1:{port + 65536}"
        run = _novaos(*verb, "--target", wrapped, "--token", mint())
        assert (run.returncode, run.stdout) == (2, ""), run.stderr
        said = f"novaos {' '.join(verb[:2] if verb[0] == 'audit' else verb[:1])}: error: "
        assert run.stderr.splitlines()[-1] == (
            f"{said}argument --target: port '{port + 65536}' is not in 1..65535"
        ), run.stderr
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # nothing connected, not even to give up
            listener.accept()


@pytest.mark.parametrize(
    "target", ["127.0.0.1:0", "127.0.0.1", "127.0.0.1:", "127.0.0.1:+80", "::1:50051", "[::1]"]
)
def test_a_target_that_is_not_host_and_port_is_a_usage_error(target: str) -> None:
    for verb in _VERBS:
        run = _novaos(*verb, "--target", target)
        assert (run.returncode, run.stdout) == (2, ""), (verb, run.stderr)
        assert ": error: argument --target: " in run.stderr.splitlines()[-1], run.stderr


def test_an_ipv6_target_in_brackets_is_dialled() -> None:
    run = _novaos("chat", "hi", "--target", "[::1]:1")  # nothing listens: the call fails
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("error: UNAVAILABLE"), run.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        # Reported with the top level's usage and name, as if chat took no options.
        (["chat", "hi", "--bogus"], "novaos chat: error: unrecognized arguments: --bogus"),
        (["audit", "list", "--bogus"], "novaos audit list: error: unrecognized arguments: --bogus"),
        # "required: audit_command": an internal name the user never typed.
        (["audit"], "novaos audit: error: the following arguments are required: "
         "{list,verify,watch}"),
    ],
)  # fmt: skip
def test_usage_errors_name_the_command_and_what_it_takes(args: list[str], said: str) -> None:
    run = _novaos(*args)
    assert (run.returncode, run.stdout) == (2, ""), run.stderr
    assert run.stderr.splitlines()[-1] == said, run.stderr
    assert run.stderr.startswith(f"usage: {said.partition(':')[0]} "), run.stderr


def _stderr_on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """What ``novaos *args`` writes to stderr when stderr is a terminal (a pty)."""
    main, sub = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "novaos", *args],
        cwd=ROOT,
        env={**BASE_ENV, **env},
        stdout=subprocess.DEVNULL,
        stderr=sub,
    )
    os.close(sub)
    chunks = []
    try:
        while chunk := os.read(main, 4096):
            chunks.append(chunk)
    except OSError:  # EIO: the process closed its end of the terminal
        pass
    finally:
        os.close(main)
    assert proc.wait(timeout=30) == 0, b"".join(chunks)
    return b"".join(chunks).decode()


def test_chat_dims_its_notes_only_on_a_terminal_without_no_color(
    spawn_server: Callable[..., Subprocess],
) -> None:
    srv = spawn_server()
    args = ("chat", "hello", "--target", f"127.0.0.1:{srv.port}", "--token", mint())
    assert "\x1b[2m[shield: pass]\x1b[0m" in _stderr_on_a_terminal(*args, env={})
    plain = _stderr_on_a_terminal(*args, env={"NO_COLOR": "1"})
    assert "[shield: pass]" in plain and "\x1b" not in plain


def test_chat_cut_by_a_gateway_shutdown_exits_4_and_says_why(
    spawn_server: Callable[..., Subprocess],
) -> None:
    srv = spawn_server(SHUTDOWN_GRACE_S="1", **ENDLESS)
    target = f"127.0.0.1:{srv.port}"
    chat = _start_novaos("chat", "a long story", "--target", target, "--token", mint())
    assert chat.stdout
    assert chat.stdout.read(1)  # the answer is streaming
    srv.proc.terminate()  # drains: the open stream ends in-band, outcome cancelled
    err = chat.communicate(timeout=30)[1].decode()
    assert chat.returncode == 4, err  # the answer did not arrive whole
    assert "[cancelled: server shutting down; conv_" in err


async def test_chat_cut_upstream_after_some_text_exits_4_and_says_why(
    fake_server: StartServer,
) -> None:
    # The provider breaks after its first sentence went out: the gateway sends the
    # terminal event upstream_truncated, then ends the call UNAVAILABLE. The outcome
    # decides (4: partial text on stdout), not the status that restates it (was 1).
    said = "Start with a list of tasks. "
    provider = await fake_server()
    for _ in range(2):  # the message as an argument, then from stdin
        reply = [*openai_stream([said, "Then pick the three"], (9, 9))[:3], Cut()]
        provider.queue(Reply(body=reply))
    env = {
        "PREFERRED_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": provider.url + "/v1", "OUTPUT_HOLDBACK_CHARS": "16",
    }  # fmt: skip
    async with running_app(**env) as running:
        for message, given in (("plan my week", b""), ("-", b"plan my week")):
            chat = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "novaos", "chat", message, "--target", running.target,
                "--token", mint(), cwd=ROOT, env=BASE_ENV, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(chat.communicate(given), timeout=60)
            assert chat.returncode == 4, err.decode()
            assert out.decode() == said + "\n"  # the text released, its line ended
            *_, outcome, status = err.decode().splitlines()
            cut = f"upstream stream from openai broke after {len(said)} characters were released"
            assert outcome.startswith(f"[upstream_truncated: {cut} (stream_cut); conv_"), outcome
            assert status == f"error: UNAVAILABLE: {cut} (stream_cut)"  # how the call ended
    assert len(provider.requests) == 2


def test_chat_exits_by_the_outcome_a_failing_status_follows() -> None:
    # An exchange the gateway could not store: `failed` in-band, then UNAVAILABLE.
    why = "the exchange was not stored: the journal is full"
    events = [_delta("An answer."), _completed(chat_pb2.OUTCOME_FAILED, why)]
    with _chat_server(_ScriptedChat(events, (grpc.StatusCode.UNAVAILABLE, why))) as target:
        run = _novaos("chat", "hi", "--target", target)
    assert run.returncode == 4, run.stderr
    assert run.stdout == "An answer.\n"
    assert run.stderr == f"[failed: {why}; conv_1]\nerror: UNAVAILABLE: {why}\n"


def test_chat_names_an_outcome_and_decision_it_does_not_know_by_number() -> None:
    # A newer gateway's outcome ended the CLI with a ValueError traceback.
    gate = chat_pb2.StreamChatResponse(gate=chat_pb2.GateEvent(gate="novel", decision=42))  # type: ignore[arg-type]
    events = [gate, _delta("An answer."), _completed(99, "new")]
    with _chat_server(_ScriptedChat(events)) as target:
        run = _novaos("chat", "hi", "--target", target)
    assert run.returncode == 4, run.stderr
    assert run.stdout == "An answer.\n"
    assert run.stderr == "[novel: gate_decision_42]\n[outcome_99: new; conv_1]\n"


def test_token_mints_a_verifiable_dev_token() -> None:
    out = _novaos("token", "--sub", "alice", "--tier", "pro", "--admin")
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["tier"] == "pro" and claims["roles"] == ["admin"]
    assert claims["exp"] > claims["iat"]


def test_token_without_a_secret_says_where_make_run_keeps_one() -> None:
    # It said "JWT_SECRET: required when REQUIRE_AUTH=true", which minting has
    # nothing to do with.
    out = _novaos("token", "--sub", "alice", env={"JWT_SECRET": ""})
    assert out.returncode == 2 and out.stdout == ""
    assert "JWT_SECRET is not set" in out.stderr and ".dev/jwt_secret" in out.stderr
    assert "REQUIRE_AUTH" not in out.stderr


def test_client_commands_do_not_import_the_gateway() -> None:
    # The gateway (shield model, providers, aiohttp) costs over a second of CPU to
    # import: chat, token, audit and --help do not need it.
    heavy = ("novaos.app", "novaos.pipeline", "novaos.providers", "aiohttp", "sklearn")
    for args in (["token", "--help"], ["chat", "--help"], ["audit", "list", "--help"]):
        run = _novaos(*args, python=("-X", "importtime"))
        assert run.returncode == 0, run.stderr
        imported = [line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines()]
        assert "novaos.cli" in imported
        assert not [name for name in imported if name.startswith(heavy)], args


@pytest.mark.parametrize(
    "args", [["--sub", ""], ["--sub", "  "], ["--sub", "al", "--ttl", "0"], ["--ttl", "-5"]]
)
def test_token_refuses_a_blank_subject_and_a_lifetime_under_a_second(args: list[str]) -> None:
    # No subject: the gateway says "token has no subject" to every call; spaces name
    # nobody either. A lifetime of 0 or less: expired when minted (only the
    # verifier's leeway lets it pass for a while).
    out = _novaos("token", *(args if "--sub" in args else ["--sub", "al", *args]))
    assert (out.returncode, out.stdout) == (2, ""), out.stderr
    assert out.stderr.splitlines()[-1].startswith("novaos token: error: argument "), out.stderr


def test_token_refuses_a_padded_subject_as_the_gateway_does() -> None:
    out = _novaos("token", "--sub", "alice ")
    assert (out.returncode, out.stdout) == (2, ""), out.stderr
    assert out.stderr.splitlines()[-1] == (
        "novaos token: error: argument --sub: sub: begins or ends with whitespace"
    ), out.stderr


def test_token_refuses_a_subject_the_gateway_keeps_for_anonymous_callers() -> None:
    # It minted a token every call refused: "the 'ip:' prefix is reserved".
    out = _novaos("token", "--sub", "ip:1.2.3.4")
    assert (out.returncode, out.stdout) == (2, ""), out.stderr
    assert out.stderr.splitlines()[-1] == (
        "novaos token: error: argument --sub: "
        "sub: the 'ip:' prefix is reserved for anonymous callers"
    ), out.stderr


def test_token_refuses_a_subject_with_a_control_character_as_the_gateway_does() -> None:
    out = _novaos("token", "--sub", "al\u2028ice")
    assert (out.returncode, out.stdout) == (2, ""), out.stderr
    assert out.stderr.splitlines()[-1] == (
        "novaos token: error: argument --sub: sub: holds a control or invisible character (U+2028)"
    ), out.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--quick", "--smoke"], "argument --smoke: not allowed with argument --quick"),
        (["--soak-s", "-5"], "argument --soak-s: must be a number of seconds above 0"),
        (["--soak-s", "0"], "argument --soak-s: must be a number of seconds above 0"),
        (["--profile-s", "-1"], "argument --profile-s: must be a number of seconds above 0"),
    ],
)
def test_bench_refuses_conflicting_or_negative_options(args: list[str], said: str) -> None:
    # The trailing --help only runs if the options before it were accepted: a test
    # that fails prints help instead of starting a benchmark.
    out = _novaos("bench", *args, "--help")
    assert (out.returncode, out.stdout) == (2, ""), out.stdout[-300:] + out.stderr
    assert said in out.stderr.splitlines()[-1]


def _records(directory: Path) -> list[bytes]:
    return b"".join(p.read_bytes() for p in sorted(directory.glob("audit-*.log"))).splitlines()


def test_audit_lists_filtered_pages_and_verifies_the_chain(
    spawn_server: Callable[..., Subprocess], tmp_path: Path
) -> None:
    directory = tmp_path / "audit"
    srv = spawn_server(AUDIT_STORAGE_TYPE="file", AUDIT_FILE_PATH=str(directory))
    target = f"127.0.0.1:{srv.port}"
    for user in ("alice", "bob", "alice"):
        sent = _novaos("chat", "help me plan my week", "--target", target, "--token", mint(user))
        assert sent.returncode == 0, sent.stderr
    veto = _novaos("chat", "how do I make a pipe bomb", "--target", target, "--token", mint("bob"))
    assert veto.returncode == 3, veto.stderr
    wait_until(lambda: len(_records(directory)) == 4, what="4 audit records on disk")
    admin = ("--target", target, "--token", mint("root", "enterprise", ("admin",)))

    paged = _novaos("audit", "list", *admin, "--page-size", "1")  # four pages
    assert paged.returncode == 0, paged.stderr
    assert paged.stdout.encode().splitlines() == _records(directory)  # as stored, in order
    bob = _novaos("audit", "list", *admin, "--user", "bob")
    assert bob.returncode == 0, bob.stderr
    bobs = [json.loads(line) for line in bob.stdout.splitlines()]
    assert [r["outcome"] for r in bobs] == ["completed", "hard_veto"]
    assert len({r["user"] for r in bobs}) == 1 and bobs[0]["user"] != "bob"  # the pseudonym
    vetoes = _novaos(
        "audit", "list", *admin, "--outcome", "hard_veto", "--gate-decision", "shield:stop"
    )
    assert [json.loads(line)["seq"] for line in vetoes.stdout.splitlines()] == [4]
    # Reading on after the last seq seen (a watch that was cut off), page by page.
    resumed = _novaos("audit", "list", *admin, "--after-seq", "2", "--page-size", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.encode().splitlines() == _records(directory)[2:]
    bob_later = _novaos("audit", "list", *admin, "--after-seq", "2", "--user", "bob")
    assert [json.loads(line)["seq"] for line in bob_later.stdout.splitlines()] == [4]
    later = _novaos("audit", "list", *admin, "--start-time", "2999-01-01T00:00:00Z")
    assert (later.returncode, later.stdout) == (0, "")

    verified = _novaos("audit", "verify", *admin)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout) == {
        "ok": True, "checked": 4, "first_bad_seq": 0, "problem": "", "unkeyed": 4
    }  # fmt: skip

    # Edit one stored record behind the gateway's back: verify must say so and fail.
    (log,) = directory.glob("audit-*.log")
    log.write_bytes(log.read_bytes().replace(b'"outcome":"hard_veto"', b'"outcome":"completed"'))
    broken = _novaos("audit", "verify", *admin)
    assert broken.returncode == 4, (broken.stdout, broken.stderr)
    assert json.loads(broken.stdout)["first_bad_seq"] == 4
    assert "audit chain broken at seq 4" in broken.stderr

    # A line edited past parsing: verify names its seq (not its page's) and its place.
    *kept, last = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([*kept, last.replace(b'"outcome"', b'"outcomx"')]))
    unreadable = _novaos("audit", "verify", *admin)
    assert unreadable.returncode == 4, (unreadable.stdout, unreadable.stderr)
    assert json.loads(unreadable.stdout)["first_bad_seq"] == 4
    assert "audit chain broken at seq 4: unreadable record" in unreadable.stderr
    assert f"{log.name} line 4" in unreadable.stderr


def test_audit_list_escapes_what_json_leaves_for_a_terminal_to_act_on(
    spawn_server: Callable[..., Subprocess],
) -> None:
    # JSON escapes ESC and the other C0 controls, but not DEL or the 8-bit C1 ones:
    # a stored prompt holding "\x9b2J" (8-bit CSI: clear the screen) reached the
    # operator's terminal raw. Escaped, the line still reads back as the prompt.
    srv = spawn_server(AUDIT_INCLUDE_CONTENT="true")
    target = f"127.0.0.1:{srv.port}"
    # U+2028 split the line for a viewer, U+202E reordered it: the log escaped
    # them, novaos audit did not.
    prompt = "help me plan my week \x9b2J\x9d0;owned\x9c \x7f done\u2028and \u202eexe.live\u2069"
    sent = _novaos("chat", prompt, "--target", target, "--token", mint("carol"))
    assert sent.returncode == 0, sent.stderr
    admin = ("--target", target, "--token", mint("root", "enterprise", ("admin",)))
    listed = _novaos("audit", "list", *admin)
    assert listed.returncode == 0, listed.stderr
    assert not any(0x7F <= ord(c) <= 0x9F for c in listed.stdout), listed.stdout
    assert not {"\u2028", "\u202e", "\u2069"} & set(listed.stdout), listed.stdout
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["content"]["prompt"] for r in records] == [prompt]


def test_verify_over_a_log_whose_last_line_does_not_parse_names_the_file(
    spawn_server: Callable[..., Subprocess], tmp_path: Path
) -> None:
    # The sink will not open over it (an edit, not a torn write). Verify named no
    # seq (first_bad_seq 0); it names the seq after the last readable record.
    directory = tmp_path / "audit"
    srv = spawn_server(AUDIT_STORAGE_TYPE="file", AUDIT_FILE_PATH=str(directory))
    sent = _novaos("chat", "hello", "--target", f"127.0.0.1:{srv.port}", "--token", mint("al"))
    assert sent.returncode == 0, sent.stderr
    wait_until(lambda: len(_records(directory)) == 1, what="1 audit record on disk")
    srv.proc.terminate()
    assert srv.proc.wait(timeout=15) == 0
    (log,) = directory.glob("audit-*.log")
    log.write_bytes(log.read_bytes().replace(b'"outcome"', b'"outcomx"'))
    srv = spawn_server(AUDIT_STORAGE_TYPE="file", AUDIT_FILE_PATH=str(directory))
    admin = ("--target", f"127.0.0.1:{srv.port}", "--token", mint("root", "pro", ("admin",)))
    broken = _novaos("audit", "verify", *admin)
    assert broken.returncode == 4, (broken.stdout, broken.stderr)
    assert json.loads(broken.stdout)["first_bad_seq"] == 1
    assert broken.stderr.startswith("audit chain broken at seq 1: unreadable record")
    assert log.name in broken.stderr


def test_audit_without_the_admin_role_is_a_clear_permission_denied(
    spawn_server: Callable[..., Subprocess],
) -> None:
    srv = spawn_server()
    user = ("--target", f"127.0.0.1:{srv.port}", "--token", mint("bob", "enterprise"))
    for verb in ("list", "verify", "watch"):
        denied = _novaos("audit", verb, *user)
        assert denied.returncode == 1, (denied.stdout, denied.stderr)
        assert denied.stdout == ""
        # The documented form: the error line, then one hint line.
        first, hint = denied.stderr.splitlines()
        assert first == "error: PERMISSION_DENIED: the admin role is required for this method"
        assert hint.startswith("hint: ") and "--admin" in hint  # how to get a token that works

    anonymous = _novaos("audit", "list", "--target", f"127.0.0.1:{srv.port}")
    first, hint = anonymous.stderr.splitlines()
    assert first.startswith("error: UNAUTHENTICATED: ") and hint.startswith("hint: ")


def _watch_messages_sent(metrics_port: int) -> float:
    """``grpc_server_msg_sent_total`` of WatchAuditEvents: keepalives and records."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("grpc_server_msg_sent_total{") and "WatchAuditEvents" in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _start_watch(*args: str) -> subprocess.Popen[str]:
    """`novaos audit watch`, its output read as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "novaos", "audit", "watch", *args],
        cwd=ROOT,
        env=BASE_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_audit_watch_prints_new_records_and_skips_keepalives(
    spawn_server: Callable[..., Subprocess], tmp_path: Path
) -> None:
    directory = tmp_path / "audit"
    srv = spawn_server(
        AUDIT_STORAGE_TYPE="file", AUDIT_FILE_PATH=str(directory), STREAM_IDLE_TIMEOUT_MS="500"
    )
    assert srv.metrics_port
    admin = ("--target", f"127.0.0.1:{srv.port}", "--token", mint("root", "enterprise", ("admin",)))
    watch = _start_watch(*admin)
    printed: list[str] = []
    try:
        reader = threading.Thread(target=lambda: printed.extend(watch.stdout or ()), daemon=True)
        reader.start()
        # Keepalives every 0.25 s: several went out before any record exists.
        wait_until(
            lambda: _watch_messages_sent(srv.metrics_port) >= 3 or watch.poll() is not None,
            what="keepalives sent",
        )
        assert watch.poll() is None, "the watch ended on a keepalive"
        sent = _novaos("chat", "help me plan my week", *admin)
        assert sent.returncode == 0, sent.stderr
        wait_until(lambda: bool(printed) or watch.poll() is not None, what="a printed record")
    finally:
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=15)
    assert watch.returncode == 130, err
    assert "watching for new audit records" in err
    # Only the record, in the file sink's form: no line for any keepalive.
    assert [line.encode() for line in printed] == [line + b"\n" for line in _records(directory)]


def test_audit_watch_ends_cleanly_and_at_once_when_the_server_shuts_down(
    spawn_server: Callable[..., Subprocess],
) -> None:
    """SIGTERM: the watch ends OK (the CLI exits 0) as soon as the drain starts,
    instead of holding the drain open until the grace runs out and then failing
    with UNAVAILABLE "Cancelling all calls"."""
    srv = spawn_server(SHUTDOWN_GRACE_S="15", STREAM_IDLE_TIMEOUT_MS="500", LOG_LEVEL="info")
    admin = ("--target", f"127.0.0.1:{srv.port}", "--token", mint("root", "enterprise", ("admin",)))
    watch = _start_watch(*admin)
    try:
        wait_until(  # keepalives flow: the watch is open on the server
            lambda: _watch_messages_sent(srv.metrics_port) >= 1 or watch.poll() is not None,
            what="the watch open",
        )
        assert watch.poll() is None
        srv.proc.send_signal(signal.SIGTERM)
        out, err = watch.communicate(timeout=60)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.communicate()
    assert watch.returncode == 0, err
    assert "error" not in err and out == ""
    assert srv.proc.wait(timeout=30) == 0
    log = "".join(srv.lines)
    assert '"message": "ending open audit watches", "watches": 1' in log, log
    # Nothing else was open: the drain did not wait for the grace to run out
    # (chat streams are told to end only then).
    assert "ending open streams" not in log, log
