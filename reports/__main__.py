"""`python -m reports runs/<name>`: rebuild a sweep's report from its stored results, without retraining."""

from __future__ import annotations

import argparse
import sys

from data_pipeline import DataError
from reports.build import build_report
from reports.runs import RunDirError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports", description=__doc__)
    p.add_argument("run_dir", help="a sweep's run directory, e.g. runs/seattle_weather-default")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    args = p.parse_args(argv)
    try:
        build_report(args.run_dir)
    except (RunDirError, DataError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
