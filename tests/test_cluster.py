"""The sweep on a multi-node Ray: cluster configs against Ray's schema, a real head + worker node on loopback,
a worker raylet killed mid-sweep, and `ray up` / `ray down` over SSH with the local provider.

Every process a test starts is stopped by PID (tests/cluster_utils.py), also when the test fails; `ray stop` is
never called here: it would end other people's Ray processes on this machine.

Over 300 lines: every multi-node case (configs, a loopback cluster, a killed raylet, ray up/down over SSH)
shares the cluster fixtures and the PID bookkeeping of tests/cluster_utils.py, so they stay in one file.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cluster_utils import (
    MARKER,
    REPO,
    ROLE,
    LocalCluster,
    ProcessGroup,
    alive,
    command_line,
    free_port,
    parent_pid,
    port_flags,
    process_env,
    ray_bin,
    result_rows,
)

CONFIGS = ("cluster.yaml", "cluster-local.yaml")
SWEEP_TIMEOUT_S = 240


def _validated(config: dict) -> dict:
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


# --------------------------------------------------------------------------------------------------------------
# Offline: both launcher configs against Ray's own cluster-config schema


@pytest.mark.parametrize("name", CONFIGS)
def test_cluster_config_validates_against_rays_schema(name: str):
    config = yaml.safe_load((REPO / name).read_text())
    prepared = _validated(config)
    head = prepared["head_node_type"]
    assert head in prepared["available_node_types"]
    commands = "\n".join(prepared["head_setup_commands"] + prepared["worker_setup_commands"])
    # Every node gets this project with its pinned dependencies, and `ray` on the login shell's PATH.
    assert "-c ~/forecast-sweep/constraints.txt" in commands and "-e ~/forecast-sweep" in commands
    assert "fs-venv/bin" in commands and "~/.bashrc" in commands
    assert prepared["file_mounts"] == {"~/forecast-sweep": "."}
    assert "/mnt/shared" in commands  # the shared storage_path multi-node Tune needs
    if name == "cluster.yaml":
        workers = {k: v for k, v in prepared["available_node_types"].items() if k != head}
        assert prepared["provider"]["type"] in ("aws", "gcp", "azure")
        assert any(v["max_workers"] > v["min_workers"] for v in workers.values())  # autoscaling
        assert all(v["node_config"]["InstanceType"].startswith(("g", "p")) for v in workers.values())  # GPUs
    else:
        assert prepared["provider"]["type"] == "local" and prepared["provider"]["worker_ips"]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda c: c.update(max_worker=4), "max_worker"),  # a misspelt top-level key
        (lambda c: c.update(max_workers="four"), "four"),  # a wrong type
        (lambda c: c.update(head_node_type="headnode"), "head_node_type"),  # a dangling node type
        (lambda c: c["available_node_types"]["gpu_worker"].update(min_worker=1), "min_worker"),
    ],
)
def test_the_schema_check_catches_broken_configs(breakage, expected):
    config = yaml.safe_load((REPO / "cluster.yaml").read_text())
    breakage(config)
    with pytest.raises(Exception, match=expected):
        _validated(config)


def _shims(bin_dir: Path, log: Path) -> dict[str, str]:
    """Stand-ins for the system commands a node's setup runs (none of them touches this machine): each logs its
    arguments; dpkg and mountpoint answer "not there yet", curl plays the EC2 instance metadata service."""
    bin_dir.mkdir()
    scripts = {
        "sudo": 'echo "sudo $*" >> "$SHIM_LOG"; if [ "$1" = DEBIAN_FRONTEND=noninteractive ]; then shift; fi; '
                'if [ "$1" = apt-get ]; then "$@"; fi',
        "apt-get": 'echo "apt-get $*" >> "$SHIM_LOG"',
        "dpkg": "exit 1",
        "mountpoint": "exit 1",
        "curl": 'echo "curl $*" >> "$SHIM_LOG"; case "$*" in *placement/region*) echo ap-south-7;; *) echo tok;; esac',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SHIM_LOG": str(log), "HOME": str(bin_dir.parent)}


def test_every_aws_node_installs_its_packages_mounts_efs_in_its_region_and_shares_the_token(tmp_path: Path):
    """Beyond the schema: run each node's system setup commands against logging stand-ins, and follow the auth
    token from the head's start commands to the workers'."""
    prepared = _validated(yaml.safe_load((REPO / "cluster.yaml").read_text()))
    head_type = prepared["head_node_type"]
    system = [c for c in prepared["setup_commands"] if "apt-get" in c or "mount" in c]
    assert len(system) == 2
    for node in prepared["available_node_types"]:
        commands = prepared["head_setup_commands" if node == head_type else "worker_setup_commands"]
        assert all(c in commands for c in system), node  # every node type runs them

    log = tmp_path / "shim.log"
    env = _shims(tmp_path / "bin", log)
    for command in system:
        proc = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, (command, proc.stderr)
    calls = log.read_text()
    assert "apt-get install -y -qq nfs-common python3-venv" in calls
    # the EFS name takes the region the node runs in (the provider's), asked from the instance metadata
    assert "sudo mount -t nfs4" in calls and "fs-0123456789abcdef0.efs.ap-south-7.amazonaws.com:/ /mnt/shared" in calls
    assert prepared["provider"]["region"] not in "\n".join(system)

    # Token hand-over over the shared mount: the head writes it (mode 600), every worker starts with it.
    token = "/mnt/shared/.ray_auth_token"
    head_start = prepared["head_start_ray_commands"]
    assert any(c.startswith("install -m 600 ~/.ray/auth_token " + token) for c in head_start)
    assert any(f"RAY_AUTH_TOKEN_PATH={token}" in c and "ray start --address" in c
               for c in prepared["worker_start_ray_commands"])
    assert any("RAY_AUTH_MODE=token" in c for c in prepared["setup_commands"])
    # The head offers no CPUs to trials; the driver waits for workers (tests/test_resources.py).
    assert prepared["available_node_types"][head_type]["resources"] == {"CPU": 0}
    text = (REPO / "cluster.yaml").read_text()
    for rule in ("TCP 22 (SSH)", "all TCP from the group itself", "TCP 2049 (NFS)"):
        assert rule in text


# --------------------------------------------------------------------------------------------------------------
# A real multi-node Ray on this machine: a head and worker nodes, each its own `ray start`, one cluster for the module


@pytest.fixture
def group(tmp_path: Path):
    g = ProcessGroup()
    yield g
    g.stop()
    left = g.leftovers()
    assert not left, f"processes survived the cleanup: {left}"


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory):
    """One loopback cluster for every case below (each `ray start` and its teardown cost seconds; they were paid per
    test). Its head offers 0 CPUs, as cluster.yaml's does: trials run on worker nodes only, which each test adds or
    removes with `_workers`. Grouped onto one xdist worker (tests/conftest.py), so it starts once per suite."""
    group = ProcessGroup()
    c = LocalCluster(group, tmp_path_factory.mktemp("loopback"))
    try:
        c.start_head(num_cpus=0)
        c.wait_for_nodes(1)
        yield c
    finally:
        group.stop()
        for temp in c.temp_dirs:
            shutil.rmtree(temp, ignore_errors=True)
    left = group.leftovers()
    assert not left, f"processes survived the cleanup: {left}"


def _worker_raylets(c: LocalCluster) -> dict[int, str]:
    """Live worker nodes: their raylet's PID -> the node's role."""
    out = {}
    for pid in c.group.pids():
        role = process_env(pid).get(ROLE, "")
        if role.startswith("worker") and alive(pid) and "raylet" in command_line(pid).split(" ")[0]:
            out[pid] = role
    return out


def _workers(c: LocalCluster, n: int) -> None:
    """Exactly `n` live worker nodes of 1 CPU each, whatever the earlier tests left (any order works)."""
    live = sorted(_worker_raylets(c).values())
    if len(live) == n:
        return  # nothing to change (a probe of the GCS costs seconds: none when no node came or went)
    for role in live[n:]:
        c.stop_node(role)
    for _ in range(n - len(live)):
        c.start_worker(f"worker-{len(c.temp_dirs)}")  # a fresh name: one temp dir per node started
    c.wait_for_nodes(1 + n, exact=True)


def _sweep(cluster: LocalCluster, runs: Path, storage: Path, cache: Path, name: str, *extra: str):
    argv = [
        sys.executable,
        "sweeps/run_all.py",
        "--profile",
        "smoke",
        "--runs-dir",
        str(runs),
        "--name",
        name,
        "--address",
        cluster.address,
        "--storage-path",
        str(storage),
        f"data.cache_dir={cache}",
        "--wandb-mode",
        "disabled",
        *extra,
    ]
    return cluster.group.popen(argv, "driver", runs.parent / f"{name}.log")


def _wait(proc: subprocess.Popen, log: Path, timeout_s: float = SWEEP_TIMEOUT_S) -> str:
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the sweep did not finish in {timeout_s} s:\n{log.read_text()[-4000:]}")
    out = log.read_text()
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.mark.slow
def test_a_driver_started_before_any_worker_waits_for_one_then_sweeps(loopback: LocalCluster, tmp_path: Path):
    """cluster.yaml's head offers `CPU: 0`: a driver submitted before the first worker is up must wait for it."""
    _workers(loopback, 0)
    runs, storage, cache = tmp_path / "runs", tmp_path / "shared", tmp_path / "cache"
    log = tmp_path / "late-worker.log"
    proc = _sweep(loopback, runs, storage, cache, "late-worker", "--models", "gru_nar")
    deadline = time.monotonic() + 120
    while "Waiting for the cluster to add nodes: one trial needs 1 CPU (Ray sees 0)" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the driver did not wait for a worker:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)
    loopback.start_worker(f"worker-{len(loopback.temp_dirs)}")
    out = _wait(proc, log)
    assert "The cluster has grown to 1 CPU + 0 GPU" in out
    assert "1 CPU + 0 GPU per trial" in out
    rows = result_rows(storage / "late-worker")
    assert len(rows) == 1 and rows[next(iter(rows))][-1]["trial_finished"]


def _node_of_row(rows: list[dict]) -> list[str]:
    return [r["node_id"] for r in rows if "node_id" in r]


@pytest.mark.slow
def test_a_smoke_sweep_runs_its_trials_on_more_than_one_node(loopback: LocalCluster, tmp_path: Path):
    _workers(loopback, 2)
    runs, storage, cache = tmp_path / "runs", tmp_path / "shared", tmp_path / "cache"
    proc = _sweep(loopback, runs, storage, cache, "two-nodes", "--models", "gru_nar,transformer")
    _wait(proc, tmp_path / "two-nodes.log")

    experiment = storage / "two-nodes"
    rows = result_rows(experiment)
    assert len(rows) == 2, sorted(rows)
    nodes = {trial: set(_node_of_row(r)) for trial, r in rows.items()}
    assert all(len(n) == 1 for n in nodes.values()), nodes
    assert len(set().union(*nodes.values())) == 2, f"all trials ran on one node: {nodes}"
    # Results went to the shared storage, and the report was built from there.
    assert (runs / "two-nodes" / "run.json").read_text().count(str(experiment)) == 1
    assert not (runs / "two-nodes" / "ray").exists()
    ranking = pd.read_csv(runs / "two-nodes" / "report" / "ranking.csv")
    assert {"gru_nar", "transformer"} <= set(ranking.model)


@pytest.mark.slow
def test_killing_a_worker_raylet_mid_sweep_resumes_its_trial_on_another_node(
    loopback: LocalCluster, tmp_path: Path
):
    _workers(loopback, 2)  # one trial on each; the victim's resumes on the other node once that one is free
    runs, storage, cache = tmp_path / "runs", tmp_path / "shared", tmp_path / "cache"
    models = ["gru_nar", "lstm_nar"]
    proc = _sweep(
        loopback,
        runs,
        storage,
        cache,
        "kill",
        "--models",
        ",".join(models),
        "train.epochs=12",
        "train.patience=100",
        # Slow enough per epoch that the worker is killed well before its trial could finish there.
        "models.gru_nar.hidden_size=128",
        "models.lstm_nar.hidden_size=128",
        "models.gru_nar.num_layers=2",
        "models.lstm_nar.num_layers=2",
        "sweep.max_failures=2",
        # A report (and a checkpoint on improvement) every epoch, so the kill lands mid-trial right after one.
        "sweep.report_every_epoch=true",
    )
    experiment = storage / "kill"
    raylets = _worker_raylets(loopback)

    # Wait until a trial on a worker node has written a checkpoint, then kill that node's raylet.
    victim, worker_raylet, deadline = None, 0, time.monotonic() + 120
    while victim is None:
        assert proc.poll() is None, (tmp_path / "kill.log").read_text()[-4000:]
        assert time.monotonic() < deadline, "no trial reported from a worker node"
        for trial, rows in result_rows(experiment).items():
            if rows and parent_pid(rows[-1]["pid"]) in raylets and 1 <= rows[-1]["epoch"] < 8:
                victim, worker_raylet = trial, parent_pid(rows[-1]["pid"])
                break
        time.sleep(0.1)
    killed_at_epoch = result_rows(experiment)[victim][-1]["epoch"]
    worker_node = result_rows(experiment)[victim][-1]["node_id"]
    os.kill(worker_raylet, 9)
    killed = time.monotonic()

    resumed = None
    while resumed is None and proc.poll() is None and time.monotonic() - killed < SWEEP_TIMEOUT_S:
        rows = result_rows(experiment)[victim]
        if any(r.get("node_id") not in (None, worker_node) for r in rows):
            resumed = time.monotonic() - killed
        time.sleep(0.1)
    out = _wait(proc, tmp_path / "kill.log")
    print(
        f"worker raylet killed (trial at epoch >= {killed_at_epoch}); resumed on another node after {resumed} s"
    )

    rows = result_rows(experiment)[victim]
    nodes = _node_of_row(rows)
    assert nodes[0] == worker_node and nodes[-1] != worker_node, nodes
    # Retried from its checkpoint: the first epoch on the other node follows an epoch run on the killed one, none is
    # redone from scratch, and the trial ends with all its epochs.
    # (result.json is written by the driver and lags the trial: use the last epoch it recorded on the killed node.)
    last_on_worker = max(r["epoch"] for r in rows if r.get("node_id") == worker_node)
    first_elsewhere = next(r for r in rows if r.get("node_id") not in (None, worker_node))
    assert killed_at_epoch <= last_on_worker
    assert 1 < first_elsewhere["epoch"] <= last_on_worker + 1, [
        (r.get("epoch"), r.get("node_id")) for r in rows
    ]
    assert rows[-1]["trial_finished"] and rows[-1]["epoch"] == 12
    assert "failed" not in out.split("Sweep finished", 1)[1].split("Report:", 1)[0].replace("0 failed", "")
    ranking = pd.read_csv(runs / "kill" / "report" / "ranking.csv")
    assert set(models) <= set(ranking.model)


# --------------------------------------------------------------------------------------------------------------
# `ray up` / `ray down` with the local provider, over SSH to 127.0.0.1

SSH_TOOLS = {
    "sshd": "/usr/sbin/sshd",
    "nc": shutil.which("nc"),
    "rsync": shutil.which("rsync"),
    "ssh": shutil.which("ssh"),
    "ssh-keygen": shutil.which("ssh-keygen"),
}

# On the real hosts the login PATH reaches the venv's `ray`. Here that venv is this project's .venv, behind a
# `ray` that ends only this test's processes on `ray stop`: the real one would end every Ray on this machine.
RAY_SHIM = """#!/bin/sh
if [ "$1" = stop ]; then exec {python} {stopper}; fi
exec {ray} "$@"
"""
SCOPED_STOP = """import os, signal, sys, time
sys.path.insert(0, {tests!r})
from cluster_utils import MARKER, ROLE, alive, parent_pid, process_env
me, ancestors = os.getpid(), set()
p = me
while p and p > 1:
    ancestors.add(p); p = parent_pid(p)
def ours():
    return [int(d) for d in os.listdir("/proc") if d.isdigit() and int(d) not in ancestors
            and process_env(int(d)).get(MARKER) == os.environ[MARKER] and process_env(int(d)).get(ROLE) == "remote"
            and "sshd" not in open(f"/proc/{{d}}/cmdline", "rb").read().split(b"\\0")[0].decode(errors="replace")]
for sig, wait in ((signal.SIGTERM, 8), (signal.SIGKILL, 3)):
    for pid in ours():
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    end = time.time() + wait
    while time.time() < end and any(alive(p) for p in ours()):
        time.sleep(0.2)
print("Stopped only this test's Ray processes.")
"""


def _sshd(group: ProcessGroup, root: Path) -> tuple[int, Path]:
    port = free_port()
    home = root / "home"
    home.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "hostkey")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "id")], check=True)
    shutil.copy(root / "id.pub", root / "authorized_keys")
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root / 'hostkey'}\nPidFile {root / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {root / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
        f"SetEnv HOME={home} {MARKER}={group.group} {ROLE}=remote\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory (root only)
    group.popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(root / "sshd_config")], "sshd", root / "sshd.log")
    deadline = time.monotonic() + 10
    while subprocess.run(["nc", "-z", "127.0.0.1", str(port)]).returncode != 0:
        assert time.monotonic() < deadline, (root / "sshd.log").read_text()
        time.sleep(0.1)
    return port, home


def _local_test_config(root: Path, home: Path, port: int, group: ProcessGroup) -> Path:
    """cluster-local.yaml aimed at 127.0.0.1 through the test's sshd; only what cannot be real here is changed."""
    config = yaml.safe_load((REPO / "cluster-local.yaml").read_text())
    shared = root / "shared"
    shared.mkdir()
    config["cluster_name"] = f"fs-test-{group.group}"
    config["provider"].update(head_ip="127.0.0.1", worker_ips=[])
    config["auth"] = {
        "ssh_user": os.environ.get("USER") or "root",
        "ssh_private_key": str(root / "id"),
        "ssh_proxy_command": f"nc 127.0.0.1 {port}",
    }

    # The launcher hashes every file under a file mount (ignoring rsync_exclude): mount a copy of the project's
    # files, not the checkout, whose .venv and runs/ are large and change while other sweeps run.
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for rel in files:
        if (REPO / rel).is_file():
            (root / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, root / "src" / rel)
    config["file_mounts"] = {"~/forecast-sweep": str(root / "src")}

    def here(cmd: str) -> str:
        return cmd.replace("/mnt/shared", str(shared))

    # No package index here: the venv the setup commands would build is this project's .venv (see RAY_SHIM).
    config["setup_commands"] = [here(c) for c in config["setup_commands"] if "pip install" not in c]
    venv_bin = home / "fs-venv" / "bin"
    venv_bin.mkdir(parents=True)
    (root / "scoped_stop.py").write_text(SCOPED_STOP.format(tests=str(Path(__file__).parent)))
    (venv_bin / "ray").write_text(
        RAY_SHIM.format(python=sys.executable, stopper=root / "scoped_stop.py", ray=ray_bin())
    )
    (venv_bin / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    for f in venv_bin.iterdir():
        f.chmod(0o755)
    # Own ports and temp dir: other Ray heads on this machine hold the defaults (6379, 10001, ...).
    temp = Path(tempfile.mkdtemp(prefix="fsr-up-"))
    group.temp_dirs = [temp]
    head_port = free_port()
    ports = (
        f"--port={head_port} {' '.join(port_flags(head_port))} --temp-dir={temp} --num-cpus=1 "
        "--object-store-memory=150000000 --include-dashboard=false"
    )
    config["head_start_ray_commands"] = [
        here(c).replace("--port=6379", ports) for c in config["head_start_ray_commands"]
    ]
    _validated(config)
    path = root / "cluster-test.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.slow
def test_ray_up_and_ray_down_on_the_local_provider_over_ssh(group: ProcessGroup):
    missing = [name for name, path in SSH_TOOLS.items() if not path or not Path(path).exists()]
    if missing:
        message = f"needs {', '.join(missing)} (apt-get install openssh-server netcat-openbsd rsync)"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="fss-"))  # short: ssh control sockets and Ray's sockets live below
    try:
        port, home = _sshd(group, root)
        config = _local_test_config(root, home, port, group)
        env = group.env("launcher")

        started = time.monotonic()
        up = subprocess.run(
            [ray_bin(), "up", "-y", "--no-config-cache", str(config)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        up_s = time.monotonic() - started
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        remote = [command_line(p) for p in group.pids("remote") if alive(p)]
        assert any("raylet" in c for c in remote) and any("gcs_server" in c for c in remote), remote
        # The setup commands put this checkout and the venv's `ray` on the head's login PATH.
        assert (home / "forecast-sweep" / "sweeps" / "run_all.py").exists()
        assert "fs-venv/bin" in (home / ".bashrc").read_text()
        assert (root / "shared" / ".ray_auth_token").stat().st_mode & 0o077 == 0

        started = time.monotonic()
        down = subprocess.run(
            [ray_bin(), "down", "-y", str(config)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        down_s = time.monotonic() - started
        assert down.returncode == 0, down.stdout[-4000:] + down.stderr[-4000:]
        # "No nodes remaining" is printed even when `ray stop` never ran: check the processes themselves.
        deadline = time.monotonic() + 15
        while (
            left := [command_line(p) for p in group.pids("remote") if alive(p)]
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, left
        print(f"ray up {up_s:.1f} s, ray down {down_s:.1f} s")
    finally:
        group.stop()
        for temp in getattr(group, "temp_dirs", []):
            shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        state = Path("/tmp/ray") / f"cluster-fs-test-{group.group}.state"
        state.unlink(missing_ok=True)
        Path(str(state).replace(".state", ".lock")).unlink(missing_ok=True)


def test_process_env_reads_the_marker_of_a_child():
    g = ProcessGroup()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env=g.env("probe"))
    try:
        deadline = time.monotonic() + 5
        while proc.pid not in g.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_env(proc.pid)[MARKER] == g.group
        assert g.stop() == [proc.pid]
        assert proc.poll() is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
