"""``dockyard doctor``: which engine the window would use, how it was found, and its health.

Shares :func:`engine.discover` with the window, so what it says is what the
window does.  Exit status 0 when an engine answers, 1 otherwise (with a one-line
reason on stderr), 2 for a configuration error.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import engine
from app.presentation import counted


async def diagnose(host: str | None, timeout: float | None = None) -> dict[str, Any]:
    """Everything doctor reports, as plain data (the JSON output is exactly this)."""
    report: dict[str, Any] = {"ok": False, "endpoint": None, "attempts": []}
    try:
        client, attempts = await engine.discover(host, deadline=timeout)
    except engine.EngineUnreachable as exc:
        report["attempts"] = [_attempt(a) for a in exc.attempts]
        report["error"] = str(exc)
        report["permission_denied"] = isinstance(exc, engine.PermissionDenied)
        report["ssh"] = exc.endpoint.startswith("ssh://")
        report["tls"] = isinstance(exc, engine.TLSError)
        if isinstance(exc, engine.HostKeyError):
            report["host_key"] = {
                "host": exc.host, "key_type": exc.key_type, "fingerprint": exc.fingerprint,
                "known_hosts": exc.known_hosts, "known_hosts_line": exc.known_hosts_line,
                "changed": isinstance(exc, engine.HostKeyChanged),
            }
        return report
    report["attempts"] = [_attempt(a) for a in attempts]
    async with client:
        version = client.version
        report["endpoint"] = {"url": client.endpoint.url, "source": client.endpoint.source}
        report["warning"] = engine.plain_tcp_warning(client.endpoint)
        report["engine"] = {
            "product": version.product,
            "version": version.version,
            "server_api_version": version.api_version,
            "api_version": client.api_version,
            "os": version.os,
            "arch": version.arch,
            "kernel": version.kernel,
        }
        try:
            overview = await engine.engine_overview(client)
            info = await client.info()
            running = len(await client.containers(all=False))
            # Dockyard's own short-lived volume helpers are not the user's containers.
            containers = sum(1 for c in await client.containers(all=True)
                             if not engine.is_helper(c.labels))
            images = len(await client.images())
        except engine.EngineError as exc:
            report["error"] = f"the engine answered the handshake but then failed: {exc}"
            return report
        report["engine"]["operating_system"] = info.operating_system
        report["engine"]["storage_driver"] = info.storage_driver
        report["engine"]["components"] = [
            {"name": c.name, "version": c.version, "details": dict(c.details)}
            for c in overview.components
        ]
        report["engine"]["chain"] = [
            {"process": link.process, "version": link.version, "role": link.role}
            for link in overview.chain
        ]
        report["counts"] = {"containers": containers, "running": running, "images": images}
        report["swarm"] = await _swarm(client)
        report["ok"] = True
    return report


async def _swarm(client: engine.Engine) -> dict[str, Any]:
    """The engine's place in a swarm; counts only a manager can give.  A failure here is
    reported in the section, not as the engine's failure (the engine itself answered)."""
    try:
        summary = await engine.swarm_summary(client)
    except engine.EngineError as exc:
        return {"state": "unknown", "error": str(exc)}
    state = summary.state
    return {
        "state": state.local_state,
        "role": state.role,
        "manager": state.control_available,
        "node_id": state.node_id or None,
        "node_addr": state.node_addr or None,
        "cluster_id": state.cluster_id or None,
        "managers": summary.manager_count if summary.manager_count is not None
        else (state.managers if state.active else None),
        "nodes": summary.node_count if summary.node_count is not None
        else (state.nodes if state.active else None),
        "services": summary.services,
        "tasks": summary.tasks,
        "running_tasks": summary.running_tasks,
        "error": state.error or None,
    }


def _swarm_line(swarm: dict[str, Any]) -> str:
    if swarm.get("state") == "unknown":
        return f"Swarm:       unknown ({swarm.get('error')})"
    if swarm["role"] == "manager":
        return (f"Swarm:       manager, node {swarm['node_id']};"
                f" {counted(swarm['managers'], 'manager')}, {counted(swarm['nodes'], 'node')},"
                f" {counted(swarm['services'], 'service')},"
                f" {counted(swarm['tasks'], 'task')} ({swarm['running_tasks']} running)")
    if swarm["role"] == "worker":
        return (f"Swarm:       worker, node {swarm['node_id']} (services are listed on a"
                " manager)")
    extra = f": {swarm['error']}" if swarm.get("error") else ""
    return f"Swarm:       {swarm['state']}{extra} (docker swarm init, or join, to start one)"


def _attempt(attempt: engine.Attempt) -> dict[str, Any]:
    return {
        "url": attempt.url,
        "source": attempt.source,
        "outcome": attempt.outcome,
        "connected": attempt.connected,
    }


def format_report(report: dict[str, Any]) -> str:
    lines: list[str] = []
    if report["ok"]:
        endpoint, info, counts = report["endpoint"], report["engine"], report["counts"]
        lines += [
            f"Endpoint:    {endpoint['url']}",
            f"  found via: {endpoint['source']}",
            *([f"  Warning:   {report['warning']}"] if report.get("warning") else []),
            f"Engine:      {info['product']} {info['version']}",
            f"API version: {info['api_version']}"
            f" (engine supports up to {info['server_api_version']})",
            f"OS/arch:     {info['os']}/{info['arch']} ({info['operating_system']})",
            f"Storage:     {info['storage_driver']}",
            "Components:  " + ", ".join(
                f"{c['name']} {_first_line(c['version'])}" for c in info["components"]),
            f"Containers:  {counts['containers']} ({counts['running']} running)",
            f"Images:      {counts['images']}",
        ]
        if "swarm" in report:
            lines.append(_swarm_line(report["swarm"]))
    else:
        lines.append(f"No usable engine: {report.get('error', 'unknown error')}")
        lines += _fixes(report)
    if report["attempts"]:
        lines.append("Tried:")
        for attempt in report["attempts"]:
            mark = "ok  " if attempt["connected"] else "skip"
            lines.append(f"  {mark} {attempt['url']}  [{attempt['source']}]: {attempt['outcome']}")
    if not report["ok"] and not (report.get("permission_denied") or report.get("ssh")
                                 or report.get("tls")):
        lines.append(
            "Start an engine (sudo systemctl start docker, or: systemctl --user start"
            " podman.socket), or point DOCKER_HOST / --host at one."
        )
    return "\n".join(lines)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _fixes(report: dict[str, Any]) -> list[str]:
    """What to do about a failure, when something is known to help."""
    host_key = report.get("host_key")
    if host_key and not host_key["changed"] and host_key["fingerprint"]:
        return [f"  Fix: if {host_key['fingerprint']} is the server's key (ssh-keygen -lf"
                " /etc/ssh/ssh_host_*_key.pub on it), add this line to"
                f" {host_key['known_hosts']}:", f"    {host_key['known_hosts_line']}"]
    if report.get("tls"):
        return ["  Fix: DOCKER_CERT_PATH (or the context's TLS files) needs ca.pem, the CA that"
                " signed the engine's certificate, and cert.pem/key.pem, a client certificate"
                " the engine's CA signed and that has not expired."]
    if report.get("permission_denied") and report.get("ssh"):
        return ["  Fix: load your key into the ssh agent (ssh-add), or name it with IdentityFile"
                " in ~/.ssh/config; the server must list it in authorized_keys."]
    if report.get("permission_denied"):
        return ["  Fix: add yourself to the 'docker' group (sudo usermod -aG docker $USER, then"
                " log in again), or use rootless Docker or Podman."]
    return []


#: How long ``--all`` waits for each engine by default: an unanswering one must not hold
#: up the list (they are probed at once, so this is about the whole wait too).
PROBE_SECONDS = 5.0


async def survey(timeout: float | None = None) -> list[dict[str, Any]]:
    """Every known engine (contexts, Podman connections, default sockets) and its state."""
    return [
        {"url": r.url, "found_via": list(r.found_via), "current": r.current, "state": r.state,
         "product": r.product, "version": r.version, "api_version": r.api_version,
         "error": r.error, "warning": r.warning}
        for r in await engine.probe_engines(timeout=timeout or PROBE_SECONDS)
    ]


def format_survey(engines: list[dict[str, Any]]) -> str:
    if not engines:
        return "No engine known: no docker context, Podman connection or default socket."
    lines: list[str] = []
    for item in engines:
        mark = "*" if item["current"] else " "
        what = f"{item['product']} {item['version']} (API {item['api_version']})" \
            if item["state"] == "reachable" else item["error"]
        lines.append(f"{mark} {item['url'] or '(no address)'}  {item['state']}: {what}")
        lines.append(f"    found via: {'; '.join(item['found_via'])}")
        if item.get("warning"):
            lines.append(f"    Warning: {item['warning']}")
    return "\n".join(lines)


def run_doctor_all(*, as_json: bool = False, timeout: float | None = None) -> int:
    """``doctor --all``: 0 when at least one engine answers, 1 otherwise."""
    try:
        engines = asyncio.run(survey(timeout))
    except engine.EngineError as exc:
        print(f"dockyard doctor: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps({"engines": engines}, indent=2))
    else:
        print(format_survey(engines))
    if not any(item["state"] == "reachable" for item in engines):
        print("dockyard doctor: no known engine answers", file=sys.stderr)
        return 1
    return 0


def run_doctor(host: str | None, *, as_json: bool = False, timeout: float | None = None) -> int:
    try:
        report = asyncio.run(diagnose(host, timeout))
    except engine.EndpointError as exc:
        print(f"dockyard doctor: {exc}", file=sys.stderr)
        return 2
    except engine.EngineError as exc:
        print(f"dockyard doctor: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        print(f"dockyard doctor: internal error ({type(exc).__name__}: {exc});"
              " please report it", file=sys.stderr)
        return 70
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    if not report["ok"]:
        print(f"dockyard doctor: {report.get('error', 'no usable engine')}", file=sys.stderr)
        return 1
    return 0
