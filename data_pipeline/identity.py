"""What data a run was made from: a hash of the source bytes (the cache key's data part) and the identity record
a run directory keeps, so a changed file is refused by name instead of silently mixed into a report."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from data_pipeline.config import DataConfig
from data_pipeline.errors import DataError
from data_pipeline.io import file_digest


def source_digest(cfg: DataConfig) -> str:
    """Hash of the source bytes (raises OSError if a file cannot be read)."""
    # The embedded data only changes with the package version (the panel: with its recipe's version).
    parts = [_embedded_version(cfg) + f":{cfg.source}"] if cfg.path is None else [file_digest(cfg.path)]
    if cfg.test_path is not None:
        parts.append(file_digest(cfg.test_path))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _embedded_version(cfg: DataConfig) -> str:
    if cfg.source == "synthetic_panel":
        from data_pipeline.synthetic import RECIPE_VERSION

        return f"synthetic_panel-{RECIPE_VERSION}"
    import vega_datasets

    return f"vega_datasets-{vega_datasets.__version__}"



def data_identity(cfg: DataConfig) -> dict[str, str]:
    """{data file: sha256 of its bytes} for each source file (the embedded data: its package version)."""
    if cfg.path is None:
        out = {f"embedded:{cfg.source}": _embedded_version(cfg)}
    else:
        out = {str(cfg.path): file_digest(cfg.path)}
    if cfg.test_path is not None:
        out[str(cfg.test_path)] = file_digest(cfg.test_path)
    return out


def check_data_identity(recorded_file: Path, cfg: DataConfig, fix: str) -> None:
    """Refuse data whose content differs from what `recorded_file` (written when a sweep started) holds,
    naming the file; record the identity when there is none yet."""
    try:
        current = data_identity(cfg)
    except OSError as err:
        raise DataError(f"cannot read {err.filename}: {err.strerror}; restore the data file") from err
    if not recorded_file.exists():
        recorded_file.write_text(json.dumps(current, indent=2))
        return
    recorded = json.loads(recorded_file.read_text())
    for name, digest in recorded.items():
        now = current.get(name)
        if now != digest:
            what = "is no longer part of the data config" if now is None else "has changed (its content hash differs)"
            raise DataError(f"{name} {what} since the sweep started (recorded in {recorded_file}); {fix}")
    extra = sorted(set(current) - set(recorded))
    if extra:
        raise DataError(f"{extra[0]} was not part of the data when the sweep started (recorded in "
                        f"{recorded_file}); {fix}")


def source_paths(cfg: DataConfig) -> list[Path]:
    return [Path(p) for p in (cfg.path, cfg.test_path) if p is not None]
