"""Real multi-node Ray on one machine for tests: nodes as separate `ray start` processes, stopped by PID.

Other engineers' Ray instances run on the same machine, so nothing here calls `ray stop` (it ends every Ray
process on the machine). Every process a test starts carries a marker environment variable, inherited by the
processes Ray spawns from it (GCS, raylet, workers, agents); `ProcessGroup.stop()` finds them by that marker in
/proc and ends exactly those PIDs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARKER = "FORECAST_SWEEP_TEST_GROUP"
ROLE = "FORECAST_SWEEP_TEST_ROLE"


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports (all held open while choosing, so none is picked twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


PORT_FLAGS = (
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--metrics-export-port",
    "--runtime-env-agent-port",
)


def port_flags(*taken: int) -> list[str]:
    """Own ports for one node's components: other Ray instances on this machine hold the defaults."""
    ports = [p for p in free_ports(len(PORT_FLAGS) + len(taken)) if p not in taken][: len(PORT_FLAGS)]
    return [f"{flag}={port}" for flag, port in zip(PORT_FLAGS, ports, strict=True)]


def process_env(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class ProcessGroup:
    """Processes started by one test, found again by the marker they (and their descendants) carry."""

    group: str = field(default_factory=lambda: f"fs-{secrets.token_hex(6)}")
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    started: list[subprocess.Popen] = field(default_factory=list)

    def env(self, role: str = "driver", **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH"):
            env.pop(key, None)
        env.update(
            {
                MARKER: self.group,
                ROLE: role,
                "RAY_AUTH_MODE": "token",
                "RAY_AUTH_TOKEN": self.token,
                "RAY_USAGE_STATS_ENABLED": "0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    def pids(self, role: str | None = None) -> list[int]:
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            env = process_env(int(entry.name))
            if env.get(MARKER) == self.group and (role is None or env.get(ROLE) == role):
                out.append(int(entry.name))
        return sorted(out)

    def popen(self, argv: list[str], role: str, log: Path, **kwargs) -> subprocess.Popen:
        fh = open(log, "ab")  # noqa: SIM115 - the child owns it; closed with the process
        proc = subprocess.Popen(
            argv,
            env=kwargs.pop("env", None) or self.env(role),
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=kwargs.pop("cwd", REPO),
            **kwargs,
        )
        fh.close()
        self.started.append(proc)
        return proc

    def stop(self, grace_s: float = 3.0) -> list[int]:
        """SIGTERM every marked process, SIGKILL what is left after `grace_s`; returns the PIDs it signalled."""
        signalled: set[int] = set()
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            for pid in self.pids():
                if alive(pid):
                    signalled.add(pid)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(alive(p) for p in self.pids()):
                for proc in self.started:
                    proc.poll()  # reap our direct children
                time.sleep(0.2)
        for proc in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        return sorted(signalled)

    def leftovers(self) -> list[str]:
        return [f"{p} {command_line(p)[:120]}" for p in self.pids() if alive(p)]


def ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


@dataclass
class LocalCluster:
    """A head and worker nodes, each its own `ray start` on loopback, with its own temp dir."""

    group: ProcessGroup
    logs: Path
    port: int = field(default_factory=free_port)
    temp_dirs: list[Path] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, role: str, args: list[str], num_cpus: int = 1) -> None:
        # Short temp dirs: Ray's unix sockets live there and socket paths are limited to 107 bytes.
        temp = Path(tempfile.mkdtemp(prefix=f"fsr-{role}-"))
        self.temp_dirs.append(temp)
        argv = [
            ray_bin(),
            "start",
            *args,
            f"--num-cpus={num_cpus}",
            "--num-gpus=0",
            "--object-store-memory=150000000",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
            *port_flags(self.port),
        ]
        proc = self.group.popen(argv, role, self.logs / f"ray-start-{role}.log")
        rc = proc.wait(timeout=90)
        if rc != 0:
            raise RuntimeError(
                f"ray start ({role}) exited {rc}:\n{(self.logs / f'ray-start-{role}.log').read_text()}"
            )

    def start_head(self, num_cpus: int = 1) -> None:
        self._start("head", ["--head", f"--port={self.port}", "--include-dashboard=false"], num_cpus)

    def start_worker(self, name: str = "worker") -> None:
        self._start(name, [f"--address={self.address}"])

    def stop_node(self, role: str, grace_s: float = 3.0) -> None:
        """End one node (every process carrying its role) by PID, as `ray stop` would on that machine alone."""
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            for pid in self.group.pids(role):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(alive(p) for p in self.group.pids(role)):
                time.sleep(0.2)

    def wait_for_nodes(self, n: int, timeout_s: float = 60, exact: bool = False) -> None:
        """Until the GCS lists `n` alive nodes (asked from a separate process, so this one never joins Ray);
        `exact`: no more than `n` either (a stopped node must have been noticed)."""
        probe = (
            "import json, ray; ray.init(address='%s', logging_level='ERROR', log_to_driver=False); "
            "print(json.dumps(sum(1 for n in ray.nodes() if n['Alive'])))"
        ).replace("%s", self.address)
        deadline = time.monotonic() + timeout_s
        while True:
            out = subprocess.run(
                [sys.executable, "-c", probe],
                env=self.group.env("probe"),
                capture_output=True,
                text=True,
                timeout=60,
            )
            alive_nodes = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else 0
            if alive_nodes == n or (alive_nodes > n and not exact):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{alive_nodes} of {n} nodes up after {timeout_s:.0f} s: {out.stderr[-2000:]}"
                )
            time.sleep(1)


def result_rows(experiment: Path) -> dict[str, list[dict]]:
    """Per trial directory: the rows of its result.json that are complete JSON."""
    out: dict[str, list[dict]] = {}
    for path in sorted(experiment.glob("*/result.json")):
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
        out[path.parent.name] = rows
    return out
