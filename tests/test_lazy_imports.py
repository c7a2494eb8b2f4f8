"""The trainable and the driver import W&B only when a sweep logs to it: they run where wandb is not installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]



def _python(code: str) -> str:
    """Run `code` in a fresh interpreter at the repository root; its stdout (it must exit 0)."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout

def test_the_sweep_modules_do_not_import_wandb():
    code = ("import sys; import sweeps.engine.trainable, sweeps.engine.driver, sweeps.run_all, "
            "sweeps.engine.resources; "
            "print('wandb' in sys.modules)")
    out = _python(code)
    assert out.strip() == "False"


def test_a_disabled_trial_logger_never_imports_wandb():
    code = ("import sys; from sweeps.engine.tracking import TrialLogger, TrialWandb; "
            "log = TrialLogger(TrialWandb('disabled', 'p', None, 'g', '/nonexistent'), trial_id='t', model='m', "
            "tag='x', config={}); log.log({'a': 1}); log.finish(); print('wandb' in sys.modules)")
    out = _python(code)
    assert out.strip() == "False"


def test_import_sweeps_is_light_and_loads_the_api_on_first_use():
    code = ("import sys; import sweeps; heavy = ('ray', 'torch', 'pandas', 'wandb'); "
            "print([m for m in heavy if m in sys.modules]); sweeps.sweep, sweeps.open_run, sweeps.SweepResult; "
            "print('sweeps.api' in sys.modules, 'wandb' in sys.modules)")
    out = _python(code)
    assert out.split("\n")[:2] == ["[]", "True False"]
