"""The sweep engine: one validated `SweepConfig` in, a run directory of finished trials out.

`driver.run_sweep` runs the phases in order (search -> finals -> refit), each a Ray Tune experiment:
`search_space` / `searcher` / `scheduler` / `tuner` set up the search, `finals` the later phases, `trainable` is
one trial (with `trial_recorder`, `tracking` and `hub` at its side), `cluster` / `resources` place trials, and
`run_dir` / `resume` / `legacy_records` / `timeline` / `progress` keep the run directory and what a person sees.
The user's entry points (sweeps/run_all.py, sweeps/api.py, sweeps/result.py, sweeps/overrides.py) sit above it and
compose it with the report; the config schema it reads (sweeps/config.py) sits below it.
"""
