"""Split-conformal intervals: calibrated where the noise is known, and built from validation data only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data
from models.run_records import StoredConfig
from reports.evaluate import baseline_scores
from reports.intervals import (
    CONFORMAL,
    all_bands,
    band_scores,
    calibrated_half_width,
    conformal_half_width,
    conformal_quantile,
    conformal_rank,
    interval_levels,
    level_tag,
    reading_table,
)
from reports.runs import RunDirError
from reports.seasons import season_weights, weighted_conformal_quantile

PHI, SIGMA = 0.7, 2.0  # AR(1) coefficient and the Gaussian innovation's standard deviation


@pytest.fixture(scope="module")
def ar1_data(tmp_path_factory):
    """Two independent AR(1) series with Gaussian innovations: the h-step forecast error of the best predictor is
    Gaussian with variance SIGMA² (1 - PHI^2h) / (1 - PHI²), so calibrated widths are known."""
    rng = np.random.default_rng(0)
    n = 6000
    series = np.zeros((n, 2))
    for t in range(1, n):
        series[t] = PHI * series[t - 1] + rng.normal(0, SIGMA, size=2)
    days = pd.date_range("2000-01-01", periods=n, freq="D")
    path = tmp_path_factory.mktemp("ar1") / "ar1.csv"
    pd.DataFrame({"date": days, "a": series[:, 0] + 20, "b": series[:, 1] - 5}).to_csv(path, index=False)
    return build_windowed_data(DataConfig(path=str(path), outlier_policy="keep"), WindowConfig(input=10, output=5),
                               SplitConfig(val_fraction=0.3, test_fraction=0.4), cache=False)


def test_the_finite_sample_rank_and_too_few_windows():
    assert conformal_rank(9, 0.8) == 8  # ceil(10 * 0.8): exactly 8, not rounded up by float error
    assert conformal_rank(99, 0.95) == 95
    scores = np.arange(1.0, 10.0)[:, None]  # 9 windows, scores 1..9
    assert conformal_quantile(scores, 0.8)[0] == 8.0
    assert np.isinf(conformal_quantile(scores, 0.95)[0])  # ceil(10 * 0.95) = 10 > 9: no finite guarantee
    assert level_tag(0.8) == "80" and level_tag(0.95) == "95" and level_tag(0.975) == "97.5"


def test_split_conformal_covers_its_level_on_exchangeable_gaussian_errors():
    rng = np.random.default_rng(1)
    val_err, test_err = rng.normal(0, 3, size=(500, 7, 2)), rng.normal(0, 3, size=(20000, 7, 2))
    for level in (0.8, 0.95):
        q = conformal_half_width(np.zeros_like(val_err), val_err, level)
        coverage = float((np.abs(test_err) <= q).mean())
        assert abs(coverage - level) < 0.03, (level, coverage)


def test_intervals_on_ar1_data_cover_80_and_95_percent_with_the_gaussian_widths(ar1_data):
    data = ar1_data
    assert len(data.val) > 1000 and len(data.test) > 2000
    results = {r.model: r for r in baseline_scores(data)[0]}
    bands = [b for b in all_bands(list(results.values()), data, (0.8, 0.95)) if b.method == CONFORMAL]
    assert {(b.model, b.level) for b in bands} == {(m, lv) for m in results for lv in (0.8, 0.95)}  # every baseline
    h = np.arange(1, data.n_outputs + 1)
    sd_best = SIGMA * np.sqrt((1 - PHI ** (2 * h)) / (1 - PHI**2))  # the optimal h-step error's sd, per day
    z = {0.8: 1.2816, 0.95: 1.9600}
    for b in bands:
        s = band_scores(b, data)
        assert abs(s["coverage"] - b.level) < 0.03, (b.model, b.level, s["coverage"])
        if b.model == "ridge":  # ridge learns the AR(1) predictor: its widths must be the Gaussian ones
            half = (data.targets_to_original(b.upper) - data.targets_to_original(b.lower)).mean(axis=0) / 2
            np.testing.assert_allclose(half, np.repeat(z[b.level] * sd_best[:, None], 2, axis=1), rtol=0.12)
    ridge_80 = band_scores(next(b for b in bands if b.model == "ridge" and b.level == 0.8), data)
    persistence_80 = band_scores(next(b for b in bands if b.model == "persistence" and b.level == 0.8), data)
    assert ridge_80["winkler_scaled"] < persistence_80["winkler_scaled"]  # the better model: tighter intervals


def test_coverage_comes_with_an_interval_that_tells_a_miss_from_noise(ar1_data):
    """The coverage's block-bootstrap interval holds the coverage and is narrow on a long test split; a band half as
    wide as ridge's calibrated one (or twice as wide) misses 80% beyond noise, and the report's interval paragraph
    names it on that side."""
    from reports.build import _coverage_misses
    from reports.intervals import off_nominal

    data = ar1_data
    ridge = next(b for b in all_bands(baseline_scores(data)[0], data, (0.8,)) if b.model == "ridge")
    mid, half = (ridge.upper + ridge.lower) / 2, (ridge.upper - ridge.lower) / 2
    narrow = dataclasses.replace(ridge, model="narrow", lower=mid - half / 2, upper=mid + half / 2)
    wide = dataclasses.replace(ridge, model="wide", lower=mid - 2 * half, upper=mid + 2 * half)
    scores = pd.DataFrame([band_scores(b, data) for b in (ridge, narrow, wide)]).set_index("model")
    for model, row in scores.iterrows():
        assert row.coverage_ci_low <= row.coverage <= row.coverage_ci_high, model
        assert 0 < row.coverage_ci_high - row.coverage_ci_low < 0.1, model
    assert scores.loc["narrow", "coverage_ci_high"] < 0.8 < scores.loc["wide", "coverage_ci_low"]
    side = pd.Series(off_nominal(0.8, scores.coverage_ci_low, scores.coverage_ci_high), scores.index)
    assert (side["narrow"], side["wide"]) == (-1, 1)
    assert off_nominal(0.8, np.nan, np.nan) == 0  # no interval computed: no claim of a miss
    text = _coverage_misses(scores.reset_index())
    below, above = text.split("below 80%: ")[1].split("; above 80%: ")
    assert below.startswith("narrow") and "wide" in above and "narrow" not in above
    shown = reading_table(scores.reset_index(), ["ridge", "narrow", "wide"], data.target_names)
    row = scores.loc["narrow"]
    assert shown.set_index("model").loc["narrow", "cover 80%"] == (
        f"{row.coverage:.1%} [{row.coverage_ci_low:.1%}, {row.coverage_ci_high:.1%}]")
    held = pd.DataFrame([{"model": "a", "level": 0.8, "coverage": 0.77, "coverage_ci_low": 0.71,
                          "coverage_ci_high": 0.82}])
    assert "within noise" in _coverage_misses(held)


def test_intervals_never_read_test_targets(ar1_data):
    data = ar1_data
    rng = np.random.default_rng(5)
    perturbed = dataclasses.replace(data, test=dataclasses.replace(
        data.test, y=data.test.y + rng.normal(0, 5, size=data.test.y.shape).astype(np.float32)))
    before = all_bands(baseline_scores(data)[0], data, (0.8, 0.95))
    after = all_bands(baseline_scores(perturbed)[0], perturbed, (0.8, 0.95))
    assert len(before) == len(after) == 2 * len(baseline_scores(data)[0])  # every baseline at both levels
    for b, a in zip(before, after, strict=True):
        assert (b.model, b.method, b.level) == (a.model, a.method, a.level)
        np.testing.assert_array_equal(b.lower, a.lower)
        np.testing.assert_array_equal(b.upper, a.upper)
    # ...while the test scores do change: test targets are read, once, to score the intervals.
    assert band_scores(before[0], data)["coverage"] != band_scores(after[0], perturbed)["coverage"]


def test_levels_come_from_the_run_config_with_defaults():
    assert interval_levels(StoredConfig({})) == (0.8, 0.95)
    assert interval_levels(StoredConfig({"report": {"interval_levels": [0.9, 0.5]}})) == (0.5, 0.9)
    with pytest.raises(RunDirError, match="report.interval_levels"):
        interval_levels(StoredConfig({"report": {"interval_levels": [80]}}))


def test_cqr_widens_a_quantile_models_band_from_validation_only(tmp_path: Path, ar1_data):
    """Chronos-2's own quantiles are conformalized (CQR) beside the split-conformal interval of its median."""
    pytest.importorskip("chronos")
    import torch
    from chronos_fixture import save_tiny_chronos2

    from reports.evaluate import score_data_entries

    def zeroshot_score(path: str, data, levels: tuple[float, ...]):
        config = {"models": {"chronos2": {}}, "pretrained": {"path": path},
                  "report": {"interval_levels": list(levels)}}
        [result], _ = score_data_entries(data, config, ["chronos2_zeroshot"])
        return result

    def head(data, n):  # a few windows per split keep the tiny model fast on a busy 2-core machine
        return dataclasses.replace(data, **{s: dataclasses.replace(
            getattr(data, s), x=getattr(data, s).x[:n], y=getattr(data, s).y[:n],
            origin=getattr(data, s).origin[:n],
            mask=None if getattr(data, s).mask is None else getattr(data, s).mask[:n]) for s in ("val", "test")})

    data = head(ar1_data, 60)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tiny = str(save_tiny_chronos2(tmp_path / "tiny"))
        result = zeroshot_score(tiny, data, (0.8,))
        perturbed = dataclasses.replace(data, test=dataclasses.replace(data.test, y=data.test.y + 3.0))
        again = zeroshot_score(tiny, perturbed, (0.8,))
    finally:
        torch.set_num_threads(threads)
    bands = all_bands([result], data, (0.8,))
    assert [(b.label, b.method) for b in bands] == [("chronos2_zeroshot", "conformal"),
                                                   ("chronos2_zeroshot (CQR)", "cqr")]
    cqr = bands[1]
    # On validation the CQR band holds at least ceil(61 * 0.8) = 49 of 60 values per cell, by construction.
    lo_i, hi_i = (result.quantile_levels.index(q) for q in (0.1, 0.9))
    margin = cqr.lower[0] - result.quantiles[0, ..., lo_i]  # the same margin for every window
    val_inside = ((data.val.y >= result.val_quantiles[..., lo_i] + margin)
                  & (data.val.y <= result.val_quantiles[..., hi_i] - margin)).sum(axis=0)
    assert (val_inside >= 49).all()
    for b, a in zip(bands, all_bands([again], perturbed, (0.8,)), strict=True):
        np.testing.assert_array_equal(b.lower, a.lower)
        np.testing.assert_array_equal(b.upper, a.upper)


def test_the_report_section_of_the_sweep_config_is_validated():
    from sweeps.config import ConfigError, load_config

    assert load_config().report.interval_levels == [0.8, 0.95]
    assert load_config(overrides=["report.interval_levels=[0.95, 0.5]"]).report.interval_levels == [0.5, 0.95]
    with pytest.raises(ConfigError, match=r"report\.interval_levels: .*strictly between 0 and 1"):
        load_config(overrides=["report.interval_levels=[95]"])
    with pytest.raises(ConfigError, match=r"report\.levels: unknown key"):
        load_config(overrides=["report.levels=[0.9]"])


def test_weighted_conformal_quantile_with_equal_weights_is_the_plain_one():
    """Every weight 1: the ceil((n+1)·level)-th smallest real score of each cell, masked cells left out; weight on
    ten scores only: those ten's own conformal quantile (and +inf at 95%, which ten scores cannot reach)."""
    rng = np.random.default_rng(0)
    scores = np.abs(rng.normal(size=(50, 7, 3)))
    observed = rng.random(scores.shape) > 0.1
    for level in (0.8, 0.95, 0.99):
        weighted = weighted_conformal_quantile(scores, level, np.ones((4, 50)), observed)
        assert np.array_equal(weighted, np.broadcast_to(conformal_quantile(scores, level, observed), weighted.shape))
    first_ten = np.zeros((1, 50))
    first_ten[0, :10] = 1
    assert np.array_equal(weighted_conformal_quantile(scores, 0.8, first_ten)[0], conformal_quantile(scores[:10], 0.8))
    assert np.isinf(weighted_conformal_quantile(scores, 0.95, first_ten)).all()


def test_season_weights_need_a_year_of_origins_and_wrap_around_new_year():
    year = pd.date_range("2015-01-01", "2016-01-31", freq="D").to_numpy()
    assert season_weights(year[:300], year[:1]) is None  # under a year: some season has no errors of its own
    assert season_weights(np.arange(400), np.arange(3)) is None  # no calendar (data.frequency=rows)
    w = season_weights(year, np.array(["2017-01-01", "2017-07-02"], "datetime64[ns]"))
    assert w is not None and w.shape == (2, len(year))
    dates = pd.DatetimeIndex(year)
    assert w[0, dates.get_loc("2015-01-01")] == pytest.approx(1.0)
    assert w[0, dates.get_loc("2015-12-31")] > 0.99  # a day apart across New Year
    assert w[0, dates.get_loc("2015-07-02")] < 1e-6 and w[1, dates.get_loc("2015-07-02")] == pytest.approx(1.0)


def test_seasonal_calibration_covers_each_season_where_pooled_errors_do_not():
    """Two years of daily out-of-fold errors, three times larger in June-August: pooled alike, a winter forecast's
    80% interval is too wide (covers ~92%) and a summer one too narrow (~44%); weighted by time of year both cover
    about 80% (75% and 77% on this draw: the seasonal calibration set is about 150 errors). Where the calibration spans less than a year every error counts alike, as before."""
    rng = np.random.default_rng(1)
    calib_origin = pd.date_range("2015-01-01", "2016-12-31", freq="D")
    spread = np.where(calib_origin.month.isin([6, 7, 8]), 3.0, 1.0)
    calib = np.abs(rng.normal(size=(len(calib_origin), 1, 1)) * spread[:, None, None])
    winter = pd.date_range("2017-01-10", "2017-02-20", freq="D").to_numpy()
    summer = pd.date_range("2017-06-20", "2017-08-10", freq="D").to_numpy()
    for origins, sigma in ((winter, 1.0), (summer, 3.0)):
        test = np.abs(rng.normal(size=(len(origins), 4000)) * sigma)  # many draws per origin: coverage exactly
        plain = conformal_quantile(calib, 0.8)[0, 0]
        seasonal = calibrated_half_width(calib, None, calib_origin.to_numpy(), origins, 0.8)[:, 0, 0]
        assert abs(float((test <= seasonal[:, None]).mean()) - 0.8) < 0.07
        assert abs(float((test <= plain).mean()) - 0.8) > 0.1
    short = calibrated_half_width(calib[:200], None, calib_origin[:200].to_numpy(), summer, 0.8)
    assert np.array_equal(short, np.broadcast_to(conformal_quantile(calib[:200], 0.8), short.shape))


def test_a_target_with_a_floor_of_zero_gets_no_lower_bound_below_it(tmp_path: Path):
    """Rain (zero on most days, never below) and a temperature that stays positive without touching zero: the
    rain's lower bounds stop at 0, the temperature's are the symmetric conformal ones, and no test value leaves
    its interval for it (coverage unchanged, interval score no worse)."""
    from reports.floors import floor_lower_scaled, zero_floored

    rng = np.random.default_rng(3)
    n = 1500
    wet = rng.random(n) < 0.3
    rain = np.where(wet, rng.gamma(0.8, 6.0, n), 0.0)
    temp = 15 + 8 * np.sin(np.arange(n) * 2 * np.pi / 365.25) + rng.normal(0, 2, n)
    path = tmp_path / "weather.csv"
    pd.DataFrame({"date": pd.date_range("2001-01-01", periods=n, freq="D"), "rain": rain, "temp": temp}
                 ).to_csv(path, index=False)
    data = build_windowed_data(DataConfig(path=str(path), outlier_policy="keep"), WindowConfig(input=14, output=3),
                               SplitConfig(val_fraction=0.2, test_fraction=0.2), cache=False)
    assert zero_floored(data).tolist() == [True, False]
    results = baseline_scores(data)[0]
    persistence = next(r for r in results if r.model == "persistence")
    band = next(b for b in all_bands([persistence], data, (0.8,)) if b.method == CONFORMAL)
    lower = data.targets_to_original(band.lower, data.test.series)
    assert lower[..., 0].min() >= -1e-6 and (np.abs(lower[..., 0]) <= 1e-6).any()  # rain: stops at 0, reaches it
    q = calibrated_half_width(np.abs(persistence.val_pred - data.val.y), data.val.mask, None, data.test.origin, 0.8)
    symmetric = persistence.y_pred - q
    np.testing.assert_allclose(band.lower[..., 1], symmetric[..., 1], rtol=1e-6)  # temperature: as it was
    assert data.targets_to_original(symmetric, data.test.series)[..., 0].min() < 0  # rain's were below zero
    unfloored = dataclasses.replace(band, lower=symmetric.astype(band.lower.dtype))
    floored_scores, plain_scores = band_scores(band, data), band_scores(unfloored, data)
    assert floored_scores["coverage"] == plain_scores["coverage"]
    assert floored_scores["winkler_scaled"] < plain_scores["winkler_scaled"]
    # no target floored: the bounds pass through untouched
    assert floor_lower_scaled(symmetric, data, None, np.array([False, False])) is symmetric
