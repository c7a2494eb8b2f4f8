"""One question, asked before any online service is used: does its host answer within a couple of seconds?

The sweep uses two optional online services (the W&B server, the Hugging Face hub) and must never hang on
either: without an answer it logs offline / uses local copies and says so.
"""

from __future__ import annotations

import socket
import threading
from typing import Any
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 2.0


def reachable(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """TCP-connect to the URL's host. DNS lookups ignore socket timeouts, so the probe runs in a daemon thread
    that we stop waiting for after `timeout_s`: this never blocks much longer than that.
    Returns (answered, "host:port" or "host:port unreachable (why)")."""
    parsed = urlparse(url if "://" in url else f"https://{url}")
    host = parsed.hostname or ""
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    result: dict[str, Any] = {}

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                result["ok"] = True
        except OSError as e:
            result["error"] = f"{type(e).__name__}: {e}"

    thread = threading.Thread(target=probe, name="reachability-probe", daemon=True)
    thread.start()
    thread.join(timeout_s + 0.5)
    if result.get("ok"):
        return True, f"{host}:{port}"
    return False, f"{host}:{port} unreachable ({result.get('error', f'no answer in {timeout_s:g} s')})"
