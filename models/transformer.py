"""Encoder-decoder Transformer forecaster, non-autoregressive by construction.

The course project this replaces fed the decoder its own test targets. Here the decoder queries are built
from nothing but a learned embedding per forecast day, the sinusoidal position of that day (continuing the
input positions) and the last *observed* target values. No target value of any forecast day can reach the
decoder, in training or in evaluation, so there is nothing to mask and nothing to leak; `y` is ignored.

Options (hyperparameters, see models/blocks.py):
    norm         none | window | revin: forecast in each input window's own frame (mean/std of the input days
                 only; calendar columns kept as they are), revin with a learnable affine; for levels that move.
    linear_skip  add ridge's linear map of the input window (minus its mean under norm) to the forecast, solved
                 in closed form before training and held: the network learns only what that linear core misses.
Known-future inputs: built with n_future > 0, each decoder query also gets a projection of `future`
(batch, n_outputs, n_future), the calendar values of its forecast day (never a target).

Shapes: x (batch, n_inputs, n_features) scaled -> (batch, n_outputs, n_targets) scaled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from models.blocks import (
    LinearSkip,
    SeriesEmbedding,
    WindowNorm,
    check_future,
    check_options,
    check_series_embedding,
)
from models.config import hparam_defaults_of


@dataclass
class TransformerConfig:
    n_features: int
    n_targets: int
    n_inputs: int
    n_outputs: int
    d_model: int = 64
    nhead: int = 4
    num_layers: int = 2
    dim_feedforward: int | None = None  # None -> 4 * d_model
    dropout: float = 0.1
    norm: str = "none"  # none | window | revin
    linear_skip: bool = False
    n_future: int = 0  # known-future inputs per forecast day (calendar values); 0 = none
    series_embedding: int = 0  # size of a learned per-series vector added to the encoder's tokens (panels)
    n_series: int = 1

    def __post_init__(self) -> None:
        check_options(self.norm, self.linear_skip)
        check_series_embedding(self.series_embedding)
        if self.n_future < 0:
            raise ValueError(f"n_future must be >= 0, got {self.n_future}")
        if self.d_model % self.nhead != 0:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by nhead ({self.nhead}): "
                "each attention head gets d_model // nhead dimensions"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.n_targets > self.n_features:
            raise ValueError(f"n_targets ({self.n_targets}) > n_features ({self.n_features})")
        if self.dim_feedforward is None:
            self.dim_feedforward = 4 * self.d_model


# hparams a caller may set through models.build, with their defaults (TransformerConfig's)
HPARAMS = hparam_defaults_of(TransformerConfig)


def sinusoidal_positions(n: int, d_model: int) -> torch.Tensor:
    """The original Transformer's fixed encoding, (n, d_model); works for odd d_model too."""
    pos = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(n, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
    return pe


class TimeSeriesTransformer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        # positions 0..n_inputs-1 for the history, n_inputs..n_inputs+n_outputs-1 for the forecast days,
        # so the decoder knows how far past the last observation each query is
        self.register_buffer("pe", sinusoidal_positions(cfg.n_inputs + cfg.n_outputs, d), persistent=False)
        self.input_proj = nn.Linear(cfg.n_features, d)
        self.horizon = nn.Parameter(0.02 * torch.randn(cfg.n_outputs, d))
        self.last_proj = nn.Linear(cfg.n_targets, d)  # last observed targets, shared by every query
        self.drop = nn.Dropout(cfg.dropout)
        enc_layer = nn.TransformerEncoderLayer(
            d, cfg.nhead, cfg.dim_feedforward, cfg.dropout, batch_first=True, norm_first=True
        )
        dec_layer = nn.TransformerDecoderLayer(
            d, cfg.nhead, cfg.dim_feedforward, cfg.dropout, batch_first=True, norm_first=True
        )
        # pre-norm layers need a final norm; nested tensors only help with padding masks, which we never use
        self.encoder = nn.TransformerEncoder(
            enc_layer, cfg.num_layers, norm=nn.LayerNorm(d), enable_nested_tensor=False
        )
        self.decoder = nn.TransformerDecoder(dec_layer, cfg.num_layers, norm=nn.LayerNorm(d))
        self.head = nn.Linear(d, cfg.n_targets)
        # created last, and only when asked for, so the default model's seeded initialisation is unchanged
        self.norm = WindowNorm(cfg.norm, cfg.n_features, cfg.n_targets, cfg.n_future)
        self.future_proj = nn.Linear(cfg.n_future, d) if cfg.n_future else None
        self.skip = LinearSkip(cfg.n_inputs, cfg.n_features, cfg.n_outputs, cfg.n_targets) if cfg.linear_skip else None
        self.series_embed = SeriesEmbedding(cfg.n_series, cfg.series_embedding) if cfg.series_embedding else None
        self.series_proj = nn.Linear(cfg.series_embedding, d) if cfg.series_embedding else None
        self.reads_series = self.series_embed is not None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None,
                future: torch.Tensor | None = None, series: torch.Tensor | None = None) -> torch.Tensor:
        del y  # the decoder never sees targets: not in training, not in evaluation
        future = check_future(future, self.cfg.n_future, self.cfg.n_outputs, x)
        n_in, n_out = self.cfg.n_inputs, self.cfg.n_outputs
        raw = x
        x, stats = self.norm.normalize(x)  # stats from the input window only
        last = x[:, -1, : self.cfg.n_targets]

        tokens = self.input_proj(x) + self.pe[:n_in]
        if self.series_embed is not None:  # the series' own vector added to every input day's token
            tokens = tokens + self.series_proj(self.series_embed(series, x)).unsqueeze(1)
        memory = self.encoder(self.drop(tokens))

        queries = self.horizon + self.pe[n_in : n_in + n_out]  # (n_outputs, d)
        queries = queries.unsqueeze(0) + self.last_proj(last).unsqueeze(1)  # (batch, n_outputs, d)
        if self.future_proj is not None:
            queries = queries + self.future_proj(future)  # each forecast day's calendar values
        # no causal mask: queries hold no targets, so letting day 3 attend to day 5's query leaks nothing
        out = self.decoder(self.drop(queries), memory)
        out = last.unsqueeze(1) + self.head(out)  # residual on the last observed value
        out = self.norm.denormalize(out, stats)
        if self.skip is not None:  # in scaled units, on the window minus its level (models/blocks.py says why)
            out = out + self.skip(self.norm.center(raw, stats))
        return out
