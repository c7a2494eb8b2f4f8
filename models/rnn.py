"""LSTM/GRU sequence-to-sequence forecasters: one shared encoder, two decoders.

    lstm_ar / gru_ar   autoregressive: the decoder steps one day at a time and is fed its own previous
                       prediction (or, while training with `teacher_forcing` > 0, sometimes the true one).
    lstm_nar / gru_nar non-autoregressive: the decoder runs once over learned horizon embeddings and never
                       receives a prediction or a target, so train and test see exactly the same inputs.

Options (hyperparameters, see models/blocks.py):
    norm         none | window | revin: forecast in each input window's own frame (mean/std of the input days
                 only; calendar columns kept as they are), revin with a learnable affine; for levels that move.
    linear_skip  add ridge's linear map of the input window (minus its mean under norm) to the forecast, solved
                 in closed form before training and held: the network learns only what that linear core misses.
Known-future inputs: built with n_future > 0, the decoders also read `future` (batch, n_outputs, n_future), the
calendar values of the forecast days (never a target): the AR decoder with each step's input, the NAR decoder
added to its horizon embeddings.

Shapes: x (batch, n_inputs, n_features) scaled; output (batch, n_outputs, n_targets) scaled. Targets are the
first n_targets features, so x[:, -1, :n_targets] is the last observed value of every target. Both decoders
predict a change relative to that value: "tomorrow looks like today" is then the zero-weight starting point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
class RNNConfig:
    cell: Literal["lstm", "gru"]
    decoder: Literal["ar", "nar"]
    n_features: int
    n_targets: int
    n_inputs: int
    n_outputs: int
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.1
    teacher_forcing: float = 0.0  # AR only: probability (per batch and step) of feeding the true y
    norm: str = "none"  # none | window | revin
    linear_skip: bool = False
    n_future: int = 0  # known-future inputs per forecast day (calendar values); 0 = none
    series_embedding: int = 0  # size of a learned per-series vector fed to the encoder (panels); 0 = none
    n_series: int = 1  # series the embedding tells apart (the data's series count)

    def __post_init__(self) -> None:
        check_options(self.norm, self.linear_skip)
        check_series_embedding(self.series_embedding)
        if self.n_future < 0:
            raise ValueError(f"n_future must be >= 0, got {self.n_future}")
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {self.cell!r}")
        if self.decoder not in ("ar", "nar"):
            raise ValueError(f"decoder must be 'ar' or 'nar', got {self.decoder!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {self.teacher_forcing}")
        if self.decoder == "nar" and self.teacher_forcing:
            raise ValueError("teacher_forcing only applies to autoregressive decoders")
        if min(self.hidden_size, self.num_layers, self.n_targets, self.n_inputs, self.n_outputs) < 1:
            raise ValueError("hidden_size, num_layers, n_targets, n_inputs and n_outputs must be >= 1")
        if self.n_targets > self.n_features:
            raise ValueError(f"n_targets ({self.n_targets}) > n_features ({self.n_features})")


# hparams a caller may set through models.build, with their defaults (RNNConfig's)
AR_HPARAMS = hparam_defaults_of(RNNConfig)
NAR_HPARAMS = hparam_defaults_of(RNNConfig, exclude=("teacher_forcing",))


def _rnn(cfg: RNNConfig, input_size: int) -> nn.Module:
    cls = nn.LSTM if cfg.cell == "lstm" else nn.GRU
    # PyTorch only applies `dropout` between stacked layers; with one layer it would warn and do nothing.
    return cls(
        input_size,
        cfg.hidden_size,
        cfg.num_layers,
        batch_first=True,
        dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
    )


class Encoder(nn.Module):
    """Reads the input window; its final state (h, or (h, c) for LSTM) initialises the decoder."""

    def __init__(self, cfg: RNNConfig):
        super().__init__()
        self.rnn = _rnn(cfg, cfg.n_features + cfg.series_embedding)  # the series' vector rides along each day

    def forward(self, x: torch.Tensor):
        _, state = self.rnn(x)
        return state


class ARDecoder(nn.Module):
    """Steps one day at a time, feeding back its own prediction. Eval mode never looks at y."""

    def __init__(self, cfg: RNNConfig):
        super().__init__()
        self.cfg = cfg
        self.rnn = _rnn(cfg, cfg.n_targets + cfg.n_future)
        self.drop = nn.Dropout(cfg.dropout)  # acts on the decoder output so dropout works with 1 layer too
        self.head = nn.Linear(cfg.hidden_size, cfg.n_targets)

    def forward(self, state, last: torch.Tensor, y: torch.Tensor | None,
                future: torch.Tensor | None = None) -> torch.Tensor:
        # Teacher forcing is a training-only device: in eval mode the model is free-running, full stop.
        use_tf = self.training and y is not None and self.cfg.teacher_forcing > 0
        inp = last  # first input: the last observed targets, not zeros
        outs = []
        for t in range(self.cfg.n_outputs):
            # the day being forecast's calendar values ride along with the previous day's value
            step = inp if future is None else torch.cat([inp, future[:, t]], dim=-1)
            out, state = self.rnn(step.unsqueeze(1), state)
            pred = inp + self.head(self.drop(out[:, 0]))  # residual on what was fed in
            outs.append(pred)
            # one coin per step for the whole batch (global torch RNG, so seeded runs repeat exactly)
            teacher = use_tf and bool(torch.rand(()) < self.cfg.teacher_forcing)
            inp = y[:, t] if teacher else pred
        return torch.stack(outs, dim=1)


class NARDecoder(nn.Module):
    """Runs the decoder RNN once over learned horizon embeddings: no prediction or target is ever fed in."""

    def __init__(self, cfg: RNNConfig):
        super().__init__()
        self.cfg = cfg
        # small init: the horizon embedding only has to tell the decoder "which day", the state does the rest
        self.horizon = nn.Parameter(0.02 * torch.randn(cfg.n_outputs, cfg.hidden_size))
        self.future_proj = nn.Linear(cfg.n_future, cfg.hidden_size) if cfg.n_future else None
        self.rnn = _rnn(cfg, cfg.hidden_size)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden_size, cfg.n_targets)

    def forward(self, state, last: torch.Tensor, y: torch.Tensor | None = None,
                future: torch.Tensor | None = None) -> torch.Tensor:
        del y  # never used, by construction
        queries = self.horizon.unsqueeze(0).expand(last.shape[0], -1, -1)
        if self.future_proj is not None:
            queries = queries + self.future_proj(future)  # which day, plus that day's calendar values
        out, _ = self.rnn(queries, state)
        return last.unsqueeze(1) + self.head(self.drop(out))


class Seq2SeqRNN(nn.Module):
    def __init__(self, cfg: RNNConfig):
        super().__init__()
        self.cfg = cfg
        self.norm = WindowNorm(cfg.norm, cfg.n_features, cfg.n_targets, cfg.n_future)  # no random init: seeding unchanged
        self.encoder = Encoder(cfg)
        # dropout on the encoder's hand-over state: the only dropout between encoder and decoder when
        # num_layers == 1, where nn.LSTM/GRU's own inter-layer dropout is inactive
        self.state_drop = nn.Dropout(cfg.dropout)
        self.decoder = ARDecoder(cfg) if cfg.decoder == "ar" else NARDecoder(cfg)
        self.skip = LinearSkip(cfg.n_inputs, cfg.n_features, cfg.n_outputs, cfg.n_targets) if cfg.linear_skip else None
        # created last, and only when asked for, so a model without it initialises exactly as before
        self.series_embed = SeriesEmbedding(cfg.n_series, cfg.series_embedding) if cfg.series_embedding else None
        self.reads_series = self.series_embed is not None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None,
                future: torch.Tensor | None = None, series: torch.Tensor | None = None) -> torch.Tensor:
        future = check_future(future, self.cfg.n_future, self.cfg.n_outputs, x)
        raw = x
        x, stats = self.norm.normalize(x)  # stats from the input window only
        y = self.norm.normalize_targets(y, stats) if (self.training and y is not None) else None
        last = x[:, -1, : self.cfg.n_targets]
        encoded = x
        if self.series_embed is not None:  # the series' own vector beside every input day
            vec = self.series_embed(series, x)
            encoded = torch.cat([x, vec.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=-1)
        state = self.encoder(encoded)
        # LSTM: drop on h only; c is the cell's memory, not an activation
        is_lstm = isinstance(state, tuple)
        state = (self.state_drop(state[0]), state[1]) if is_lstm else self.state_drop(state)
        out = self.decoder(state, last, y, future)
        out = self.norm.denormalize(out, stats)
        if self.skip is not None:  # in scaled units, on the window minus its level (models/blocks.py says why)
            out = out + self.skip(self.norm.center(raw, stats))
        return out
