"""A tiny randomly initialised Chronos-2 model on disk, for tests that must not download anything.

Same config schema as autogluon/chronos-2-small (patch size 16, [REG] token, arcsinh scaling, 21 quantiles),
only much smaller: ~55k parameters, loads in well under a second.
"""

from __future__ import annotations

from pathlib import Path

import torch

# The quantile levels of the released Chronos-2 checkpoints.
CHRONOS2_QUANTILES = [0.01, 0.05, *[round(0.05 * i, 2) for i in range(2, 19)], 0.95, 0.99]


def save_tiny_chronos2(
    directory: str | Path, *, d_model: int = 32, num_layers: int = 2, context_length: int = 256, seed: int = 0
) -> Path:
    """Write a random Chronos-2 model with `save_pretrained` to `directory` and return it."""
    from chronos.chronos2 import Chronos2CoreConfig, Chronos2Model, Chronos2Pipeline

    config = Chronos2CoreConfig(
        d_model=d_model,
        d_kv=d_model // 4,
        d_ff=2 * d_model,
        num_layers=num_layers,
        num_heads=4,
        dropout_rate=0.1,
        architectures=["Chronos2Model"],
        chronos_pipeline_class="Chronos2Pipeline",
        chronos_config={
            "context_length": context_length,
            "input_patch_size": 16,
            "input_patch_stride": 16,
            "output_patch_size": 16,
            "max_output_patches": 4,
            "quantiles": CHRONOS2_QUANTILES,
            "use_reg_token": True,
            "use_arcsinh": True,
        },
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Chronos2Model(config)
    directory = Path(directory)
    Chronos2Pipeline(model).save_pretrained(directory)
    return directory
