"""The ``novaos`` command: serve, token, chat, audit, bench.

Each command imports what it needs when it runs: the gateway (``novaos.app``: the
shield model, providers, aiohttp) costs about a second of CPU to import, which
``chat``, ``token``, ``audit`` and every ``--help`` have no use for.
"""

from __future__ import annotations

try:
    import argparse
    import asyncio
    import os
    import subprocess
    import sys
    from collections.abc import Sequence
    from pathlib import Path
    from typing import TYPE_CHECKING

    from novaos import cli_args, terminal
    from novaos.domain import AUDIT_FILTERS
    from novaos.errors import EXIT_CONFIG, ConfigError
    from novaos.stop_signal import EXIT_INTERRUPTED, StopSignal
except KeyboardInterrupt:
    # Ctrl-C while these load (asyncio alone takes tens of ms): nothing has started,
    # so end as a Ctrl-C anywhere else does, 130 (128 + SIGINT), without a traceback.
    raise SystemExit(130) from None

if TYPE_CHECKING:
    from novaos.app import App
    from novaos.config import Settings

EXIT_OK, EXIT_ERROR, EXIT_POLICY, EXIT_BROKEN = 0, 1, 3, 4
_CLIENTS = ("chat", "token", "audit")  # what they print is their whole job
_TARGET_HELP = "the gateway's plaintext gRPC port, host:port or [IPv6]:port"


def _settings() -> Settings:
    from novaos.config import load_settings

    return load_settings()


async def _serve(settings: Settings, *, worker: bool, stop: StopSignal) -> int:
    # From here to the end a signal is a loop callback, not an interruption.
    with stop.routed_through(asyncio.get_running_loop()):
        return await _serve_routed(settings, worker=worker, stop=stop)


async def _serve_routed(settings: Settings, *, worker: bool, stop: StopSignal) -> int:
    import gc

    stopping = asyncio.Event()
    stop.on_signal(stopping.set)
    # A signal during these imports and builds (a second or more of CPU) is handled
    # once the loop runs again.
    from novaos.app import App
    from novaos.lifecycle_lines import say, say_as
    from novaos.supervisor import serve_metrics

    app = App(settings)
    # Bound first: a taken METRICS_PORT stops start-up before gRPC serves anything.
    # Workers leave it to the supervisor, which serves the aggregated /metrics.
    metrics_server = (
        None
        if worker
        else serve_metrics(settings.metrics_host, settings.metrics_port, app.metrics.registry)
    )
    port = await _start_unless_stopped(app, stopping)
    who = settings.novaos_worker_index if worker else None  # named in its stdout lines
    # Start-up waits (Redis, the audit database) end at the signal; its CPU-bound
    # parts run to their end first. Either way it is not announced as listening.
    if port is None or stopping.is_set():
        say_as(who, "signal during start-up; stopping")
        await app.drain(grace_s=None if port else 0)  # closes what start-up opened
        if metrics_server is not None:
            metrics_server.shutdown()
        say_as(who, "stopped")
        return stop.startup_exit_code
    # Everything built so far (policy, compiled rules, word indexes, clients) lives
    # as long as the process: keep it out of every future cycle collection.
    gc.freeze()
    if metrics_server is None:
        say_as(who, f"serving on :{port}")
    else:
        say(
            f"novaos: gRPC listening on {settings.grpc_host}:{port}; "
            f"metrics on :{metrics_server.server_port}/metrics"
        )
    await stopping.wait()  # set already when the signal came as start-up ended
    say_as(who, "draining")
    await app.drain()
    if metrics_server is not None:
        metrics_server.shutdown()
    say_as(who, "stopped")
    return EXIT_OK


async def _start_unless_stopped(app: App, stopping: asyncio.Event) -> int | None:
    """``app.start()``'s port, or None when a signal came first (start-up cancelled)."""
    from novaos.tasks import cancel_and_wait

    starting = asyncio.ensure_future(app.start())
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(stopped)
        if not starting.done():
            await cancel_and_wait(starting)
    if starting.cancelled():
        return None
    return starting.result()  # a ConfigError found while starting goes up as before


def cmd_serve(args: argparse.Namespace) -> int:
    # First of all: from here on the stop signals (SIGTERM, SIGINT, SIGHUP, SIGQUIT)
    # stop start-up cleanly.
    stop = StopSignal(worker=args.worker)
    stop.install()
    import logging

    from novaos.config import process_environment, unknown_variables
    from novaos.observability.logging import configure_logging
    from novaos.supervisor import Supervisor, die_with_parent

    try:
        settings = _settings()
    except ConfigError as exc:
        _say_config_error(exc)
        return EXIT_CONFIG
    configure_logging(settings, worker=args.worker)
    stop.who = settings.novaos_worker_index if args.worker else None
    if not args.worker and (unknown := unknown_variables()):  # the supervisor says it once
        logging.getLogger("novaos.config").warning(
            "not NovaOS variables, ignored: %s",
            ", ".join(unknown),
            extra={"component": "config"},
        )
    if args.worker and settings.novaos_supervisor_pid:
        die_with_parent(settings.novaos_supervisor_pid)
    if stop.received is not None:  # nothing started yet
        return stop.startup_exit_code
    try:
        if settings.workers > 1 and not args.worker:
            return Supervisor(settings, process_environment(), stop=stop).run()
        return asyncio.run(_serve(settings, worker=args.worker, stop=stop))
    except ConfigError as exc:  # found while starting (providers, ports)
        _say_config_error(exc)
        return EXIT_CONFIG


def _say_config_error(exc: ConfigError) -> None:
    """One write of the whole line: workers share the supervisor's stderr, and
    unbuffered (PYTHONUNBUFFERED) ``print`` writes the text and its line break
    apart, so two workers' lines could interleave into one."""
    sys.stderr.write(f"novaos: {exc}\n")
    sys.stderr.flush()


_NO_SECRET = (
    "novaos token: JWT_SECRET is not set: tokens are signed with the gateway's secret "
    "(make run keeps its dev one in .dev/jwt_secret)"
)


def cmd_token(args: argparse.Namespace) -> int:
    from novaos.transport.auth import JwtAuthenticator, JwtConfig

    if not os.environ.get("JWT_SECRET"):
        # Said before the settings check, which would blame REQUIRE_AUTH.
        print(_NO_SECRET, file=sys.stderr)
        return EXIT_CONFIG
    try:
        settings = _settings()
    except ConfigError as exc:
        print(f"novaos: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if settings.jwt_secret is None:
        print(_NO_SECRET, file=sys.stderr)
        return EXIT_CONFIG
    auth = JwtAuthenticator(
        JwtConfig(
            settings.jwt_secret.get_secret_value(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            expiry_s=settings.jwt_expiry_s,
        )
    )
    roles = ["admin"] if args.admin else []
    terminal.write(sys.stdout, auth.mint(args.sub, args.tier, roles, args.ttl) + "\n")
    return EXIT_OK


_STDIN_MAX_BYTES = 4 * 1024 * 1024  # gRPC's default message size: the gateway's bound too


def _message_from_stdin(parser: argparse.ArgumentParser) -> str:
    """``novaos chat -``: the message is stdin, whole (a file, a here-document)."""
    data = sys.stdin.buffer.read(_STDIN_MAX_BYTES + 1)
    if len(data) > _STDIN_MAX_BYTES:
        parser.error(f"message: stdin holds more than {_STDIN_MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        parser.error(f"message: stdin is not UTF-8 text (byte {exc.start + 1})")


def cmd_chat(args: argparse.Namespace) -> int:
    from novaos.chat_client import run_chat

    message = _message_from_stdin(args.command_parser) if args.message == "-" else args.message
    return asyncio.run(run_chat(args.target, message, args.token, args.conversation, args.ack))


def cmd_audit_list(args: argparse.Namespace) -> int:
    from novaos.audit_client import ListFilters, run_audit_list

    filters = ListFilters(
        user=args.user,
        start_time=args.start_time,
        end_time=args.end_time,
        outcome=args.outcome,
        stance=args.stance,
        gate_decision=args.gate_decision,
        page_size=args.page_size,
        after_seq=args.after_seq,
    )
    return asyncio.run(run_audit_list(args.target, args.token, filters))


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from novaos.audit_client import run_audit_verify

    return asyncio.run(run_audit_verify(args.target, args.token, args.from_seq, args.to_seq))


def cmd_audit_watch(args: argparse.Namespace) -> int:
    from novaos.audit_client import run_audit_watch

    return asyncio.run(run_audit_watch(args.target, args.token))  # Ctrl-C ends it: see main


def _add_audit_list(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], conn: argparse.ArgumentParser
) -> None:
    """``novaos audit list``: ListAuditEvents' filters as options."""
    listing = verbs.add_parser(
        "list", parents=[conn], help="print records as JSON lines, oldest first, every page"
    )
    listing.add_argument(
        "--user", type=cli_args.text, default="", help="user id or its audit pseudonym"
    )
    listing.add_argument(
        "--start-time", type=cli_args.time, help="at or after (ISO 8601; UTC if no offset)"
    )
    listing.add_argument(
        "--end-time", type=cli_args.time, help="before (ISO 8601; UTC if no offset)"
    )
    listing.add_argument(
        "--outcome",
        type=cli_args.audit_filter("outcome"),
        default="",
        help=f"one of {', '.join(sorted(AUDIT_FILTERS['outcome']))}",
    )
    listing.add_argument(
        "--stance",
        type=cli_args.audit_filter("stance"),
        default="",
        help=f"one of {', '.join(sorted(AUDIT_FILTERS['stance']))}",
    )
    listing.add_argument(
        "--gate-decision",
        type=cli_args.audit_filter("gate_decision"),
        default="",
        metavar="GATE:DECISION",
        help="e.g. shield:stop",
    )
    listing.add_argument(
        "--page-size",
        type=cli_args.int_in(0, cli_args.INT32_MAX),
        default=0,
        help="records per RPC (server default 50)",
    )
    listing.add_argument(
        "--after-seq",
        type=cli_args.int_in(0, cli_args.INT64_MAX),
        default=0,
        metavar="SEQ",
        help="only records after this seq (a cut-off watch reads on from the last it saw)",
    )
    listing.set_defaults(fn=cmd_audit_list, command_parser=listing)


def _add_audit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``novaos audit list|verify|watch``: AuditService over gRPC, with an admin token."""
    conn = argparse.ArgumentParser(add_help=False)
    conn.add_argument(
        "--target", type=cli_args.target, default="127.0.0.1:50051", help=_TARGET_HELP
    )
    conn.add_argument(
        "--token", type=cli_args.token, default="", help="bearer token with the admin role"
    )
    audit = sub.add_parser("audit", help="list, verify or watch audit records (admin token)")
    # metavar: a missing verb is named as the choices, not as the dest.
    verbs = audit.add_subparsers(dest="audit_command", required=True, metavar="{list,verify,watch}")
    _add_audit_list(verbs, conn)
    verify = verbs.add_parser(
        "verify", parents=[conn], help="check the hash chain; exit 4 when it is broken"
    )
    seq = cli_args.int_in(0, cli_args.INT64_MAX)
    verify.add_argument("--from-seq", type=seq, default=0, help="first seq (0: the first record)")
    verify.add_argument("--to-seq", type=seq, default=0, help="last seq (0: the last record)")
    verify.set_defaults(fn=cmd_audit_verify, command_parser=verify)
    watch = verbs.add_parser(
        "watch", parents=[conn], help="print new records as JSON lines as they are written"
    )
    watch.set_defaults(fn=cmd_audit_watch, command_parser=watch)


def cmd_bench(args: argparse.Namespace) -> int:
    """Forwards to ``python -m bench`` (a repository tool, not part of the package)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / "__main__.py").is_file():
        print("novaos: bench/ is only in a repository checkout", file=sys.stderr)
        return EXIT_ERROR
    return subprocess.call([sys.executable, "-m", "bench", *args.bench_args], cwd=root)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="novaos", description="NovaOS LLM gateway")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{serve,token,chat,audit,bench}"
    )
    serve = sub.add_parser("serve", help="start the gRPC server from env config")
    serve.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(fn=cmd_serve, command_parser=serve)
    token = sub.add_parser("token", help="mint a dev JWT from JWT_SECRET")
    # A token without a subject, with an anonymous caller's (ip:...), or expired when
    # minted, is one the gateway refuses.
    token.add_argument("--sub", type=cli_args.subject, required=True, help="user id")
    token.add_argument("--tier", default="free", choices=["free", "pro", "enterprise"])
    token.add_argument("--admin", action="store_true")
    token.add_argument(
        "--ttl",
        type=cli_args.int_in(1, cli_args.INT32_MAX),  # an exp every JWT library can hold
        default=None,
        help="lifetime in seconds (default JWT_EXPIRY)",
    )
    token.set_defaults(fn=cmd_token, command_parser=token)
    chat = sub.add_parser("chat", help="stream an answer to the terminal")
    chat.add_argument("message", type=cli_args.text, help="the message; - reads it from stdin")
    chat.add_argument(
        "--target", type=cli_args.target, default="127.0.0.1:50051", help=_TARGET_HELP
    )
    chat.add_argument(
        "--token", type=cli_args.token, default="", help="bearer token (default: none)"
    )
    chat.add_argument("--conversation", type=cli_args.text, default="")
    chat.add_argument("--ack", type=cli_args.text, default="", help="ack token for a soft veto")
    chat.set_defaults(fn=cmd_chat, command_parser=chat)
    _add_audit(sub)
    # Options are bench's own (novaos bench --help shows them): forwarded untouched.
    bench = sub.add_parser("bench", help="run the benchmark (python -m bench)", add_help=False)
    bench.set_defaults(fn=cmd_bench, bench_args=[])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if args.command == "bench":
            args.bench_args = extra
        elif extra:
            # With the usage of the command they were given to, not the top level's.
            owner: argparse.ArgumentParser = getattr(args, "command_parser", parser)
            owner.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command in _CLIENTS:
            terminal.prepare()
        return int(args.fn(args))
    except KeyboardInterrupt:
        # Ctrl-C: asyncio.run cancelled the command's task, which cancelled the call
        # in flight on its way out (the channel closes), or it came while a command's
        # modules loaded; a traceback would say nothing.
        return EXIT_INTERRUPTED
    except terminal.OutputError as exc:  # >/dev/full, >&-: one line, not a traceback
        terminal.report(f"error: {exc}")
        return EXIT_ERROR
