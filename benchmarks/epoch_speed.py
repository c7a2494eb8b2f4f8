"""Seconds per epoch: our `models.fit` loop vs the seed project's loop, on the same data and model config.

Seed-style reference: a torch Dataset that builds tensors per item in __getitem__, a DataLoader, a GRU
seq2seq whose decoder is stepped one day at a time in Python from a zero first input, Adam, a DataLoader
pass for validation every epoch, and a fixed 1051 epochs. Ours: `fit` on `gru_ar` (same GRU, same stepping
decoder, so the comparison isolates the training loop) and, for reference, `gru_nar`.

    python benchmarks/epoch_speed.py                 # CPU (or whatever --device auto picks)
    python benchmarks/epoch_speed.py --device cuda   # on a GPU
    python benchmarks/epoch_speed.py --smoke         # seconds, for CI

Writes benchmarks/results/epoch_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data_pipeline.types import Scaler, SplitWindows, WindowedData  # noqa: E402
from models import TrainConfig, build, fit  # noqa: E402
from models.train import resolve_device  # noqa: E402

SEED_EPOCHS = 1051
HIDDEN, LAYERS, DROPOUT, BATCH, N_IN, N_OUT = 64, 2, 0.1, 128, 30, 7


# ---------------------------------------------------------------------------------------------- data


def synthetic_data(n_train_windows: int, n_features: int = 4, n_targets: int = 4) -> WindowedData:
    n_steps = int((n_train_windows + N_IN + N_OUT) / 0.7) + 1
    rng = np.random.default_rng(0)
    t = np.arange(n_steps)
    raw = np.stack(
        [np.sin(2 * np.pi * t / (365 + 30 * j)) + 0.3 * np.sin(2 * np.pi * t / 7) for j in range(n_features)],
        1,
    )
    raw += 0.2 * rng.standard_normal(raw.shape)
    scaled = ((raw - raw.mean(0)) / raw.std(0)).astype(np.float32)
    names = [f"f{j}" for j in range(n_features)]

    def windows(lo, hi):
        s = np.arange(lo, hi - N_IN - N_OUT + 1)
        x = np.stack([scaled[i : i + N_IN] for i in s])
        y = np.stack([scaled[i + N_IN : i + N_IN + N_OUT, :n_targets] for i in s])
        return SplitWindows(x, y, np.zeros(len(s), dtype="datetime64[ns]"))

    a, b = int(0.7 * n_steps), int(0.85 * n_steps)
    scaler = Scaler("standard", names, raw.mean(0), raw.std(0))
    return WindowedData(
        windows(0, a),
        windows(a - N_IN, b),
        windows(b - N_IN, n_steps),
        names,
        names[:n_targets],
        scaler,
        N_IN,
        N_OUT,
    )


def load_data(smoke: bool) -> tuple[WindowedData, str]:
    if not smoke:
        try:
            from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data

            wd = build_windowed_data(
                DataConfig(), WindowConfig(input=N_IN, output=N_OUT), SplitConfig(), cache=False
            )
            return wd, "seattle_weather (data_pipeline.build_windowed_data)"
        except Exception as e:  # the data pipeline is optional here; timing needs only arrays
            print(f"[data] falling back to synthetic data: {type(e).__name__}: {e}")
    n = 200 if smoke else 1000
    return synthetic_data(n), f"synthetic ({n} train windows)"


# ------------------------------------------------------------------------------------ seed reference


class SeedDataset(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):  # a fresh tensor per item, as the seed did
        return torch.tensor(self.x[i], dtype=torch.float32), torch.tensor(self.y[i], dtype=torch.float32)


class SeedGRU(nn.Module):
    def __init__(self, n_features, n_targets):
        super().__init__()
        self.n_targets = n_targets
        self.encoder = nn.GRU(n_features, HIDDEN, LAYERS, batch_first=True, dropout=DROPOUT)
        self.decoder = nn.GRU(n_targets, HIDDEN, LAYERS, batch_first=True, dropout=DROPOUT)
        self.fc = nn.Linear(HIDDEN, n_targets)

    def forward(self, x):
        _, h = self.encoder(x)
        inp = torch.zeros(x.shape[0], 1, self.n_targets, device=x.device)
        outs = []
        for _ in range(N_OUT):
            out, h = self.decoder(inp, h)
            pred = self.fc(out)
            outs.append(pred)
            inp = pred
        return torch.cat(outs, 1)


def time_seed_loop(data: WindowedData, epochs: int, device: torch.device) -> list[float]:
    torch.manual_seed(0)
    model = SeedGRU(data.n_features, data.n_targets).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    train = DataLoader(SeedDataset(data.train.x, data.train.y), batch_size=BATCH, shuffle=True)
    val = DataLoader(SeedDataset(data.val.x, data.val.y), batch_size=BATCH)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for xb, yb in train:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = sum(loss_fn(model(xb.to(device)), yb.to(device)).item() for xb, yb in val)
        del val_loss
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


# ---------------------------------------------------------------------------------------------- ours


def our_model(name: str, data: WindowedData):
    return build(
        name,
        n_features=data.n_features,
        n_targets=data.n_targets,
        n_inputs=data.n_inputs,
        n_outputs=data.n_outputs,
        seed=0,
        hidden_size=HIDDEN,
        num_layers=LAYERS,
        dropout=DROPOUT,
    )


def time_fit(name: str, data: WindowedData, epochs: int, device: str, patience: int) -> dict:
    cfg = TrainConfig(epochs=epochs, batch_size=BATCH, patience=patience, device=device, seed=0)
    r = fit(our_model(name, data), data, cfg)
    times = [h["epoch_time_s"] for h in r.history]
    return {"result": r, "epoch_times": times}


def steady(times: list[float]) -> float:
    """Mean seconds/epoch without the first epoch (warm-up: allocator, cuDNN autotune, compile)."""
    return float(np.mean(times[1:] if len(times) > 1 else times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--epochs", type=int, default=300, help="cap for the early-stopping run (patience 20)")
    p.add_argument("--timing-epochs", type=int, default=6, help="epochs timed per loop")
    p.add_argument("--smoke", action="store_true", help="tiny run for CI")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/epoch_speed.json; --smoke: a temporary folder")
    args = p.parse_args()
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "epoch_speed.json", args.smoke)
    if args.smoke:
        args.epochs, args.timing_epochs = 3, 2
    device = resolve_device(args.device)
    data, source = load_data(args.smoke)
    print(
        f"data: {source}; train {len(data.train)} / val {len(data.val)} windows, "
        f"{data.n_features} features, {data.n_targets} targets; device {device}"
    )

    seed_times = time_seed_loop(data, args.timing_epochs, device)
    print(f"[1/4] seed loop: {args.timing_epochs} epochs timed", flush=True)
    ours_ar = time_fit("gru_ar", data, args.timing_epochs, device.type, patience=10**6)
    print(f"[2/4] models.fit gru_ar: {args.timing_epochs} epochs timed", flush=True)
    ours_nar = time_fit("gru_nar", data, args.timing_epochs, device.type, patience=10**6)
    print(f"[3/4] models.fit gru_nar: {args.timing_epochs} epochs timed", flush=True)
    es = time_fit("gru_ar", data, args.epochs, device.type, patience=20)["result"]
    print(f"[4/4] early-stopping run: {es.epochs_run} epochs", flush=True)

    seed_s, ar_s, nar_s = steady(seed_times), steady(ours_ar["epoch_times"]), steady(ours_nar["epoch_times"])
    time_to_best = es.history[es.best_epoch - 1]["train_time_s"]
    rows = [
        ("seed loop (Dataset/DataLoader, GRU AR)", seed_s, 1.0),
        ("models.fit gru_ar", ar_s, seed_s / ar_s),
        ("models.fit gru_nar", nar_s, seed_s / nar_s),
    ]
    print(f"\n{'loop':<42}{'s/epoch':>10}{'speed-up':>10}")
    for name, s, ratio in rows:
        print(f"{name:<42}{s:>10.4f}{ratio:>9.2f}x")
    seed_total = SEED_EPOCHS * seed_s
    print(
        f"\nseed: fixed {SEED_EPOCHS} epochs ~ {seed_total:.1f} s (extrapolated)\n"
        f"ours (gru_ar, early stopping patience 20, cap {args.epochs}): best val MSE {es.best_val_mse:.4f} at "
        f"epoch {es.best_epoch} after {time_to_best:.1f} s; stopped {'early' if es.stopped_early else 'at cap'} "
        f"after {es.epochs_run} epochs, {es.train_time_s:.1f} s -> {seed_total / es.train_time_s:.1f}x less time"
    )
    out = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "data": source,
        "n_train_windows": len(data.train),
        "config": {
            "hidden": HIDDEN,
            "layers": LAYERS,
            "dropout": DROPOUT,
            "batch": BATCH,
            "n_in": N_IN,
            "n_out": N_OUT,
        },
        "timing_epochs": args.timing_epochs,
        "seed_s_per_epoch": seed_s,
        "ours_gru_ar_s_per_epoch": ar_s,
        "ours_gru_nar_s_per_epoch": nar_s,
        "speedup_gru_ar": seed_s / ar_s,
        "speedup_gru_nar": seed_s / nar_s,
        "seed_fixed_epochs": SEED_EPOCHS,
        "seed_total_s_extrapolated": seed_total,
        "early_stopping": {
            "patience": 20,
            "epoch_cap": args.epochs,
            "best_epoch": es.best_epoch,
            "best_val_mse": es.best_val_mse,
            "time_to_best_s": time_to_best,
            "epochs_run": es.epochs_run,
            "train_time_s": es.train_time_s,
            "stopped_early": es.stopped_early,
        },
        "smoke": args.smoke,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2))
    os.replace(tmp, path)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
