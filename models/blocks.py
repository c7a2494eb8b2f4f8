"""Two options every trained architecture shares: per-window normalisation and a linear skip path.

    norm="window"     each input window is shifted and scaled by its own per-feature mean and std (computed over
                      the input days only), the network forecasts in that frame, and the forecast is mapped back.
    norm="revin"      the same plus a learnable per-feature affine (RevIN, Kim et al., ICLR 2022).
    linear_skip=True  ridge's linear map from the input window (minus its own mean, when norm is on) to the
                      forecast, added to the network's output in scaled units (a linear core as in NLinear/DLinear,
                      Zeng et al., AAAI 2023): `models.fit` solves it in closed form first, then trains the network
                      on what it leaves.

    series_embedding  (panels) a learned vector per series, fed to the encoder beside every input day, so one
                      global model can still tell series apart; 0 (the default) leaves the model as it was.

Why: a network fed absolute levels saturates when the test period lies outside the training range (trend, level
shift); in the window's own frame every window looks alike, and the linear path extrapolates where the network
cannot. The statistics never see a forecast day: they are functions of `x` alone. Calendar (known-future)
columns, the last `n_known` input features, are not normalised: their phase is the information they carry, and
the decoders read their forecast-day values unnormalised too.
Why the linear path only removes the level, not the scale: a seasonal swing or a noise level fixed in absolute
units is a linear function of the de-meaned window, but not of the window divided by its own std; in scaled units
the path can hold ridge's solution exactly. Why solved, not trained (`fit_linear_core`): trained by gradient
descent alongside the network (from zero, or even from ridge's solution) the path ended above ridge on a linear
trend, where ridge is the right model (benchmarks/shift.py); solved first and held, the deep model starts at its
linear core and early stopping on validation only keeps what the network adds to it.
"""

from __future__ import annotations

import torch
from torch import nn

from data_pipeline.types import SplitWindows
from models.baselines import Ridge, fit_ridge

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

    def __init__(self, mode: str, n_features: int, n_targets: int, n_known: int = 0):
        super().__init__()
        # the last n_known features are the calendar (known-future) columns, read on the input days: they pass
        # through unnormalised, so they keep their true phase and match the decoders' unnormalised `future`
        self.mode, self.n_targets, self.n_scaled = mode, n_targets, n_features - n_known
        if mode != "none" and n_targets > self.n_scaled:
            raise ValueError(f"norm={mode} reads the {n_known} known-future (calendar) column(s) as the last of the "
                             f"{n_features} input features, after the {n_targets} target(s): there is no room")
        if mode == "revin":
            self.weight = nn.Parameter(torch.ones(n_features))
            self.bias = nn.Parameter(torch.zeros(n_features))

    def statistics(self, x: torch.Tensor) -> WindowStats:
        # Detached, as in RevIN: the statistics are data, not something to optimise through.
        mean = x.mean(dim=1, keepdim=True).detach()
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + EPS).detach()
        if self.n_scaled < x.shape[-1]:  # calendar columns: identity statistics
            keep = torch.arange(x.shape[-1], device=x.device) < self.n_scaled
            mean, std = torch.where(keep, mean, 0.0), torch.where(keep, std, 1.0)
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

    def center(self, x: torch.Tensor, stats: WindowStats | None) -> torch.Tensor:
        """x minus its window's mean (calendar columns untouched): the linear skip path's input."""
        return x if stats is None else x - stats[0]

    def denormalize(self, out: torch.Tensor, stats: WindowStats | None) -> torch.Tensor:
        if stats is None:
            return out
        k = self.n_targets
        if self.mode == "revin":
            out = (out - self.bias[:k]) / (self.weight[:k] + EPS**2)
        return out * stats[1][..., :k] + stats[0][..., :k]


class LinearSkip(nn.Module):
    """Flattened (centred) input window -> (n_outputs, n_targets) in scaled units: ridge's map, set in closed form
    by `fit_linear_core` and then fixed (buffers, not parameters); zero, i.e. absent, until then."""

    def __init__(self, n_inputs: int, n_features: int, n_outputs: int, n_targets: int):
        super().__init__()
        self.n_outputs, self.n_targets = n_outputs, n_targets
        self.register_buffer("weight", torch.zeros(n_outputs * n_targets, n_inputs * n_features))
        self.register_buffer("bias", torch.zeros(n_outputs * n_targets))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x.flatten(1), self.weight, self.bias).view(-1, self.n_outputs, self.n_targets)


@torch.no_grad()
def fit_linear_core(norm: WindowNorm, skip: LinearSkip, train: SplitWindows, val: SplitWindows) -> dict:
    """Set the skip path to ridge regression of the change from the last input value on the centred window.

    Both decoders already predict "last value + something", so with the skip fitted to (y - last) the network
    learns only what ridge misses; the path then stays fixed while the network trains. The penalty is chosen on
    the validation windows (fit_ridge, scored cells only); y enters only as the training and validation targets.
    """
    def centred(split: SplitWindows) -> SplitWindows:
        x = torch.as_tensor(split.x, dtype=torch.float64)
        stats = None if norm.mode == "none" else norm.statistics(x)
        level = torch.zeros_like(x[:, :1]) if stats is None else stats[0]
        y = torch.as_tensor(split.y, dtype=torch.float64) - level[..., : skip.n_targets]
        # fit_ridge regresses y - x[:, -1] on x: here (y - level) - (last - level) = y - last, on x - level
        return SplitWindows(norm.center(x, stats).numpy(), y.numpy(), split.origin, mask=split.mask)

    ridge = Ridge(n_features=train.x.shape[2], n_targets=skip.n_targets, n_inputs=train.x.shape[1],
                  n_outputs=skip.n_outputs)
    result = fit_ridge(ridge, centred(train), centred(val))
    skip.weight.copy_(ridge.weight.T.to(skip.weight))
    skip.bias.copy_(ridge.bias.to(skip.bias))
    return result


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
