"""Pretrained weights from the Hugging Face hub, fetched by the sweep (the only layer that uses the network).

`fetch_pretrained(path)` turns `pretrained.path` into a local model directory: a local path is returned as it is;
a hub id is downloaded into the local hub cache, but only after the hub host answers a 2 s probe (otherwise only
the cache is consulted). The report and the forecast command then find it in that cache without a network.
"""

from __future__ import annotations

from models.chronos import PretrainedUnavailable, looks_like_local_path
from sweeps.engine.network import reachable


def _hub_endpoint() -> str:
    # The endpoint the hub client will actually use (HF_ENDPOINT is read when huggingface_hub is imported).
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


def fetch_pretrained(path: str) -> str:
    """A local directory holding the model `path` names. Raises PretrainedUnavailable (one line naming `path`)."""
    if looks_like_local_path(path):
        return path
    from huggingface_hub import constants, snapshot_download

    # Chronos2Pipeline.from_pretrained is never handed a hub id: its adapter lookup ignores local_files_only and
    # retries for ~25 s without network.
    answered, where = (False, "HF_HUB_OFFLINE is set") if constants.HF_HUB_OFFLINE else reachable(_hub_endpoint())
    try:
        return snapshot_download(path, local_files_only=not answered, allow_patterns=["*.json", "*.safetensors"])
    except Exception as e:  # hub client errors: not found, gated, invalid id, cache miss, connection
        if answered:
            first_line = (str(e).strip().splitlines() or [""])[0]
            why = f"not found on the hub or not fetchable ({type(e).__name__}: {first_line})"
        else:
            why = f"offline ({where}) and not in the local hub cache"
        raise PretrainedUnavailable.for_path(path, why) from e



