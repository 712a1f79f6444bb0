"""Prometheus alert rules and the Grafana dashboard: parsed with a real PromQL parser
(promtool-free), the guide's thresholds checked, and every metric they name is one the
service exports. (A live-scrape comparison belongs to the observability tests, which can
import ``dashboard_metric_names`` / ``alert_metric_names`` from tests.fixtures.deploy_assets.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import grpc
import promql_parser
import pytest
import yaml

from novaos.observability.metrics import Metrics
from novaos.providers import errors as perr
from novaos.providers.attempt import as_counted
from novaos.providers.errors import ERROR_KINDS
from tests.fixtures.deploy_assets import (
    EXPORTED_METRICS,
    OPERATIONS_DOC,
    ROOT,
    SYNTHETIC_METRICS,
    alert_matchers,
    alert_metric_names,
    alert_rules,
    dashboard_exprs,
    dashboard_metric_names,
    dashboard_panels,
    expand_grafana_variables,
    load_dashboard,
    load_yaml_docs,
    promql_metric_names,
    selectors,
)
from tests.fixtures.promql_eval import evaluate, registry_samples

RULES = alert_rules()
RULES_BY_NAME = {rule["alert"]: rule for rule in RULES}
DASHBOARD = load_dashboard()
(DEPLOYMENT,) = [
    d for d in load_yaml_docs(ROOT / "kubernetes" / "deployment.yaml") if d["kind"] == "Deployment"
]


def _anchors() -> set[str]:
    text = OPERATIONS_DOC.read_text()
    explicit = set(re.findall(r'<a id="([\w-]+)"></a>', text))
    headings = {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#{2,4} (.+)$", text, re.MULTILINE)
    }
    return explicit | headings


def test_alert_names_are_unique() -> None:
    assert len(RULES_BY_NAME) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_alert_rule_is_well_formed(rule: dict[str, Any]) -> None:
    promql_parser.parse(rule["expr"])  # raises on a syntax error
    promql_parser.parse_duration(rule["for"])
    assert rule["labels"]["severity"] in {"info", "warning", "critical"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    doc, _, anchor = rule["annotations"]["runbook"].partition("#")
    assert doc == "docs/operations.md" and anchor in _anchors(), rule["annotations"]["runbook"]
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}


def _threshold(rule_name: str) -> tuple[str, float, set[str]]:
    """(comparison, number, metrics on the left) of `<expr> <op> <number>`."""
    expr = promql_parser.parse(RULES_BY_NAME[rule_name]["expr"])
    assert isinstance(expr, promql_parser.BinaryExpr)
    assert isinstance(expr.rhs, promql_parser.NumberLiteral)
    return str(expr.op), expr.rhs.val, promql_metric_names(str(expr.lhs))


def test_guide_threshold_p95_latency_above_2s() -> None:
    op, value, metrics = _threshold("NovaOSHighLatencyP95")
    assert (op, value, metrics) == (">", 2.0, {"http_request_duration_seconds"})
    assert "histogram_quantile(0.95" in RULES_BY_NAME["NovaOSHighLatencyP95"]["expr"]


def test_novaos_own_time_has_a_latency_alert_covering_unary_chat() -> None:
    # With the unary Chat left out of NovaOSHighLatencyP95 (its duration is the
    # model's answer), nothing alerted on a POST /api/v1/chat deployment's latency.
    op, value, metrics = _threshold("NovaOSGatewayOverheadP95")
    assert (op, value, metrics) == (">", 0.25, {"gateway_overhead_seconds"})
    assert RULES_BY_NAME["NovaOSGatewayOverheadP95"]["for"] == "10m"
    rule = RULES_BY_NAME["NovaOSGatewayOverheadP95"]["expr"]
    assert alert_matchers("NovaOSGatewayOverheadP95") == []  # every chat call, any method
    calls = Metrics()
    calls.overhead.observe(0.003)  # every series exists before the window
    before = registry_samples(calls.registry)
    for _ in range(94):
        calls.overhead.observe(0.004)
    for _ in range(6):  # 6 % of calls spend 0.6 s in NovaOS: the p95 is there
        calls.overhead.observe(0.6)
    assert evaluate(rule, registry_samples(calls.registry), before)
    healthy = Metrics()
    healthy.overhead.observe(0.003)
    before = registry_samples(healthy.registry)
    for _ in range(100):
        healthy.overhead.observe(0.009)
    assert evaluate(rule, registry_samples(healthy.registry), before) == {}


def test_guide_threshold_error_rate_above_5_percent() -> None:
    op, value, metrics = _threshold("NovaOSHighErrorRate")
    assert (op, value, metrics) == (">", 0.05, {"http_requests_total"})


def test_guide_threshold_circuit_open() -> None:
    # Open is 1, half-open 2: a provider that stays down flips between them, each
    # half-open spell resetting the rule's `for`, so "== 1" never fired.
    op, value, metrics = _threshold("NovaOSCircuitOpen")
    assert (op, value, metrics) == (">=", 1.0, {"circuit_breaker_state"})
    assert "circuit_breaker_state >= 1" in RULES_BY_NAME["NovaOSAllCircuitsOpen"]["expr"]


@pytest.mark.parametrize("rule", ["NovaOSHighErrorRate", "NovaOSHighLatencyP95"])
def test_rates_leave_out_the_health_probes(rule: str) -> None:
    # Envoy's health check every 2 s and the kubelet's probes outnumbered chat calls
    # on a quiet pod: every chat failing at 2 calls/min read as 4 % errors.
    methods = [m for m in alert_matchers(rule) if m[1] == "method"]
    assert methods, rule
    for _, _, op, pattern in methods:
        assert op == "MatchOp.NotRe", (rule, op)
        excluded = re.compile(f"^(?:{pattern})$")
        for probe in (
            "/grpc.health.v1.Health/Check",
            "/novaos.v1.HealthService/Ready",
            "/novaos.v1.HealthService/Live",
        ):
            assert excluded.match(probe), (rule, probe)
        assert not excluded.match("/novaos.v1.AuditService/ListAuditEvents"), rule


def _latency_excludes() -> re.Pattern[str]:
    ((_, _, op, pattern),) = [m for m in alert_matchers("NovaOSHighLatencyP95") if m[1] == "method"]
    assert op == "MatchOp.NotRe"
    return re.compile(f"^(?:{pattern})$")  # Prometheus anchors a regex matcher


def test_the_latency_alert_leaves_out_unary_chat_and_keeps_the_other_unary_calls() -> None:
    # A unary Chat lasts the model's whole answer (seconds when the provider is
    # healthy): counted, the alert fired on ordinary POST /api/v1/chat traffic.
    excluded = _latency_excludes()
    assert excluded.match("/novaos.v1.ChatService/Chat")
    assert excluded.match("/novaos.v1.ChatService/StreamChat")
    # Streams too, counted since they are observed: their duration is how long the
    # client keeps them open.
    assert excluded.match("/grpc.health.v1.Health/Watch")
    assert excluded.match("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert excluded.match("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
    for kept in (
        "/novaos.v1.ChatService/ListConversations",
        "/novaos.v1.ChatService/GetConversation",
        "/novaos.v1.ChatService/DeleteConversation",
        "/novaos.v1.AuditService/ListAuditEvents",
        "/novaos.v1.AuditService/GetAuditEvent",
        "/novaos.v1.AuditService/VerifyAuditChain",
    ):
        assert not excluded.match(kept), kept


def test_the_error_rate_alert_still_counts_unary_chat() -> None:
    for _, _, _, pattern in [m for m in alert_matchers("NovaOSHighErrorRate") if m[1] == "method"]:
        assert not re.fullmatch(pattern, "/novaos.v1.ChatService/Chat")


# Panels that say which alert watches what they show, and that alert.
_ALERT_PANELS = [
    (panel, match.group(0))
    for panel in dashboard_panels(DASHBOARD)
    if (match := re.search(r"NovaOS\w+", panel.get("description") or ""))
]


@pytest.mark.parametrize(
    ("panel", "alert"), _ALERT_PANELS, ids=[f"{p['title']}:{a}" for p, a in _ALERT_PANELS]
)
def test_a_panel_selects_the_series_its_alert_does(panel: dict[str, Any], alert: str) -> None:
    # The error-rate and latency panels counted the health probes that the alerts
    # leave out: on a quiet pod the panel showed a fraction of what the alert saw.
    # Only the dashboard's own $job / $instance pickers may differ.
    wanted = selectors(RULES_BY_NAME[alert]["expr"])
    for target in panel["targets"]:
        expr = expand_grafana_variables(target["expr"])
        assert selectors(expr, ignore=frozenset({"job", "instance"})) == wanted, target["refId"]


def test_the_panels_that_name_an_alert_are_found() -> None:
    assert {a for _, a in _ALERT_PANELS} >= {"NovaOSHighErrorRate", "NovaOSHighLatencyP95"}


def test_the_kubernetes_scrape_job_is_the_one_the_target_down_alert_selects() -> None:
    # The alert selected up{job="novaos"}, which a generic annotation job
    # (kubernetes-pods) never produces: on Kubernetes it matched nothing.
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "kubernetes-scrape.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "novaos"
    assert 'up{job="novaos"}' in RULES_BY_NAME["NovaOSTargetDown"]["expr"]
    assert "absent(" in RULES_BY_NAME["NovaOSTargetDown"]["expr"]
    keeps = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
    kept = {r["source_labels"][0]: r["regex"] for r in keeps}
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert re.fullmatch(kept["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                        labels["app.kubernetes.io/name"])  # fmt: skip
    ports = [p["name"] for c in DEPLOYMENT["spec"]["template"]["spec"]["containers"]
             for p in c.get("ports", ())]  # fmt: skip
    assert re.fullmatch(kept["__meta_kubernetes_pod_container_port_name"], "metrics")
    assert "metrics" in ports


def test_error_rate_counts_server_side_grpc_codes_only() -> None:
    (matcher,) = [m for m in alert_matchers("NovaOSHighErrorRate") if m[1] == "code"]
    _, _, op, pattern = matcher
    codes = set(pattern.split("|"))
    assert op == "MatchOp.Re" and codes <= {code.name for code in grpc.StatusCode}
    # Callers' mistakes and limits doing their job are not our errors.
    assert not codes & {"OK", "UNAUTHENTICATED", "PERMISSION_DENIED", "INVALID_ARGUMENT"}
    assert not codes & {"RESOURCE_EXHAUSTED", "CANCELLED", "NOT_FOUND"}
    assert {"INTERNAL", "UNAVAILABLE", "UNKNOWN"} <= codes


def test_an_audit_sink_that_spills_raises_an_alert() -> None:
    # A failing sink sends records straight to the spill file: the queue stays near 0
    # and the pod ready, so NovaOSAuditBacklog never fired for an outage.
    op, value, metrics = _threshold("NovaOSAuditSpilling")
    assert (op, value, metrics) == (">", 0.0, {"audit_spilling"})
    assert RULES_BY_NAME["NovaOSAuditSpilling"]["annotations"]["runbook"].endswith(
        "#audit-sink-down"
    )


def _section(text: str, heading: str) -> str:
    level = heading.split(" ", maxsplit=1)[0]
    start = text.index(heading + "\n")
    following = re.search(rf"^#{{2,{len(level)}}} ", text[start + len(heading) :], re.MULTILINE)
    return text[start : start + len(heading) + following.start()] if following else text[start:]


def test_every_exported_metric_is_in_the_monitoring_table() -> None:
    table = _section(OPERATIONS_DOC.read_text(), "## Monitoring")
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert EXPORTED_METRICS - documented == set()


def test_the_audit_runbook_names_its_alerts_and_what_they_watch() -> None:
    section = _section(OPERATIONS_DOC.read_text(), "### Audit sink down")
    rules = [r for r in RULES if r["annotations"]["runbook"].endswith("#audit-sink-down")]
    assert {r["alert"] for r in rules} >= {"NovaOSAuditSpilling", "NovaOSAuditBacklog"}
    for rule in rules:
        assert rule["alert"] in section
        assert all(f"`{m}`" in section for m in promql_metric_names(rule["expr"])), rule["alert"]


def test_a_worker_the_supervisor_restarts_raises_an_alert() -> None:
    # Restarted within a second under WORKERS>1, a killed worker left only a stdout
    # line: the pod's restart count does not move.
    rule = RULES_BY_NAME["NovaOSWorkerRestarts"]
    op, value, metrics = _threshold("NovaOSWorkerRestarts")
    assert (op, value, metrics) == (">", 0.0, {"worker_restarts_total"})
    assert "increase(worker_restarts_total[15m])" in rule["expr"]
    assert rule["annotations"]["runbook"] == "docs/operations.md#process-restarts"
    section = _section(OPERATIONS_DOC.read_text(), "### Process restarts")
    assert "NovaOSWorkerRestarts" in section and "`worker_restarts_total`" in section
    panels = [p for p in dashboard_panels(DASHBOARD) if p["type"] != "row"]
    assert any("worker_restarts_total" in t["expr"] for p in panels for t in p["targets"])


def test_alerts_use_only_exported_metrics() -> None:
    assert alert_metric_names() - SYNTHETIC_METRICS <= EXPORTED_METRICS


def test_messages_per_stream_counts_chat_streams_only() -> None:
    # Health Watches and reflection sessions are server streams too, counted since
    # they are observed: a client's per-subchannel Watch pulled the average down.
    (panel,) = [
        p for p in dashboard_panels(DASHBOARD) if p["title"].startswith("Messages per stream")
    ]
    for target in panel["targets"]:
        for metric, matchers in selectors(expand_grafana_variables(target["expr"])):
            assert ("grpc_service", "MatchOp.Equal", "novaos.v1.ChatService") in matchers, metric


def test_dashboard_is_importable_grafana_json() -> None:
    assert DASHBOARD["uid"] and DASHBOARD["title"]
    assert isinstance(DASHBOARD["schemaVersion"], int)
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    panels = dashboard_panels(DASHBOARD)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels:
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboard_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard_panels(DASHBOARD):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("expr", dashboard_exprs(DASHBOARD))
def test_dashboard_query_parses(expr: str) -> None:
    promql_parser.parse(expand_grafana_variables(expr))


def test_dashboard_shows_every_exported_metric_and_nothing_else() -> None:
    names = dashboard_metric_names()
    assert names - SYNTHETIC_METRICS == EXPORTED_METRICS


def test_metric_name_extraction_folds_histogram_series() -> None:
    expr = "histogram_quantile(0.9, sum by (le) (rate(a_seconds_bucket[5m]))) / on() b_total"
    assert promql_metric_names(expr) == {"a_seconds", "b_total"}
    with pytest.raises(ValueError):
        promql_metric_names("sum(rate(a_total[5m])")


def test_a_provider_failing_behind_its_fallback_raises_an_alert() -> None:
    # A provider failing 2 calls in 3 never opened its breaker, and the fallback
    # answered: nothing in the metrics or alerts showed it. The alert counts exactly
    # the failed calls that move a breaker: the kind tells them apart (a 404 for the
    # configured model was request_error, left out, yet it moves the breaker).
    op, value, metrics = _threshold("NovaOSProviderErrors")
    assert (op, value, metrics) == (">", 10.0, {"provider_errors_total"})
    ((_, _, match, pattern),) = [
        m for m in alert_matchers("NovaOSProviderErrors") if m[1] == "kind"
    ]
    assert match == "MatchOp.NotRe"
    assert set(ERROR_KINDS) == {c.kind for c in _error_classes()}  # the metric's whole set
    moves: dict[str, set[bool]] = {}
    for error in _failed_calls():
        counted = as_counted(error.exc, error.asked_model)  # what the router logs and counts
        moves.setdefault(counted.kind, set()).add(counted.counts_as_failure)
    assert set(moves) == set(ERROR_KINDS)
    assert all(len(verdicts) == 1 for verdicts in moves.values()), moves  # one kind, one rule
    counted_kinds = {k for k in ERROR_KINDS if not re.fullmatch(pattern, k)}
    assert counted_kinds == {k for k, verdicts in moves.items() if verdicts == {True}}
    assert RULES_BY_NAME["NovaOSProviderErrors"]["annotations"]["runbook"].endswith(
        "#provider-down"
    )


@dataclass(frozen=True)
class FailedCall:
    exc: perr.ProviderError
    asked_model: str  # the model the client asked the provider for; "" for the configured one


def _failed_calls() -> list[FailedCall]:
    """One failed call of every class, each 4xx and redirect status, for the model
    the client asked and for the configured one."""
    calls: list[FailedCall] = []
    for cls in _error_classes():
        for status in (0, 301, 307, 400, 404, 408, 413, 422, 500, 529):
            for asked in ("", "gpt-9"):
                if cls is perr.ProviderRateLimitedError:
                    exc: perr.ProviderError = cls("p", "HTTP 429", retry_after_s=1.0)
                else:
                    exc = cls("p", f"HTTP {status}", status=status)
                calls.append(FailedCall(exc, asked))
    return calls


def _error_classes() -> list[type[perr.ProviderError]]:
    found: list[type[perr.ProviderError]] = []
    todo = [perr.ProviderError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found
