"""Two options every trained architecture shares: per-window normalisation and a linear skip path.

    norm="window"     each input window is shifted and scaled by its own per-feature mean and std (computed over
                      the input days only), the network forecasts in that frame, and the forecast is mapped back.
    norm="revin"      the same plus a learnable per-feature affine (RevIN, Kim et al., ICLR 2022).
    linear_skip=True  one linear map from the flattened input window to the forecast, added to the network's
                      output (as in NLinear/DLinear, Zeng et al., AAAI 2023); zero at initialisation.

    series_embedding  (panels) a learned vector per series, fed to the encoder beside every input day, so one
                      global model can still tell series apart; 0 (the default) leaves the model as it was.

Why: a network fed absolute levels saturates when the test period lies outside the training range (trend, level
shift); in the window's own frame every window looks alike, and the linear path extrapolates where the network
cannot. The statistics never see a forecast day: they are functions of `x` alone.
"""

from __future__ import annotations

import torch
from torch import nn

NORMS = ("none", "window", "revin")
EPS = 1e-5  # variance floor: a feature constant over the window (a weekly series' day of week) stays finite

# (mean, std), each (batch, 1, n_features): the input window's own statistics
WindowStats = tuple[torch.Tensor, torch.Tensor]


def check_options(norm: str, linear_skip: bool) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    if not isinstance(linear_skip, bool):
        raise ValueError(f"linear_skip must be true or false, got {linear_skip!r}")


class WindowNorm(nn.Module):
    """Normalises x by its own window statistics and maps target-space outputs back (identity for norm="none")."""

    def __init__(self, mode: str, n_features: int, n_targets: int):
        super().__init__()
        self.mode, self.n_targets = mode, n_targets
        if mode == "revin":
            self.weight = nn.Parameter(torch.ones(n_features))
            self.bias = nn.Parameter(torch.zeros(n_features))

    def statistics(self, x: torch.Tensor) -> WindowStats:
        # Detached, as in RevIN: the statistics are data, not something to optimise through.
        mean = x.mean(dim=1, keepdim=True).detach()
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + EPS).detach()
        return mean, std

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, WindowStats | None]:
        if self.mode == "none":
            return x, None
        stats = self.statistics(x)
        xn = (x - stats[0]) / stats[1]
        if self.mode == "revin":
            xn = xn * self.weight + self.bias
        return xn, stats

    def normalize_targets(self, y: torch.Tensor, stats: WindowStats | None) -> torch.Tensor:
        """Targets (batch, days, n_targets) into the window's frame: what teacher forcing feeds back."""
        if stats is None:
            return y
        k = self.n_targets
        yn = (y - stats[0][..., :k]) / stats[1][..., :k]
        return yn * self.weight[:k] + self.bias[:k] if self.mode == "revin" else yn

    def denormalize(self, out: torch.Tensor, stats: WindowStats | None) -> torch.Tensor:
        if stats is None:
            return out
        k = self.n_targets
        if self.mode == "revin":
            out = (out - self.bias[:k]) / (self.weight[:k] + EPS**2)
        return out * stats[1][..., :k] + stats[0][..., :k]


class LinearSkip(nn.Module):
    """Flattened input window -> (n_outputs, n_targets), zero-initialised so training starts from the network."""

    def __init__(self, n_inputs: int, n_features: int, n_outputs: int, n_targets: int):
        super().__init__()
        self.n_outputs, self.n_targets = n_outputs, n_targets
        self.proj = nn.Linear(n_inputs * n_features, n_outputs * n_targets)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.flatten(1)).view(-1, self.n_outputs, self.n_targets)


def check_future(future: torch.Tensor | None, n_future: int, n_outputs: int, x: torch.Tensor) -> torch.Tensor | None:
    """The known-future inputs a model built with `n_future` reads; a model built without them ignores any."""
    if n_future == 0:
        return None
    want = (x.shape[0], n_outputs, n_future)
    if future is None or tuple(future.shape) != want:
        got = None if future is None else tuple(future.shape)
        raise ValueError(f"this model reads {n_future} known-future input(s) per forecast day: pass future of "
                         f"shape {want}, got {got}")
    return future


class SeriesEmbedding(nn.Module):
    """A learned vector per series (an index into the data's series names): (batch,) ids -> (batch, dim)."""

    def __init__(self, n_series: int, dim: int):
        super().__init__()
        if n_series < 1 or dim < 1:
            raise ValueError(f"a series embedding needs n_series >= 1 and dim >= 1, got {n_series} and {dim}")
        self.n_series = n_series
        self.table = nn.Embedding(n_series, dim)

    def forward(self, series: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        if series is None or tuple(series.shape) != (x.shape[0],):
            got = None if series is None else tuple(series.shape)
            raise ValueError(f"this model has a series embedding: pass series ids of shape ({x.shape[0]},), got {got}")
        return self.table(series.long())


def check_series_embedding(dim: int) -> None:
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
        raise ValueError(f"series_embedding is a size (0: off), got {dim!r}")


def series_kwargs(model: nn.Module, series: torch.Tensor | None) -> dict[str, torch.Tensor | None]:
    """`series=` for a model that reads series ids (built with a series embedding); nothing for any other, so
    baselines and models without the option are called exactly as before."""
    return {"series": series} if getattr(model, "reads_series", False) else {}
