"""Generators of the docs site's reference pages, read from the code so the pages cannot drift from it.

Each module returns Markdown that `docs/hooks.py` (an mkdocs hook) pastes where a page holds a marker such as
`<!-- docgen:config -->`; `tests/test_docs.py` checks the same output against the code. Not part of the installed
packages: only the docs build and the tests import it, from a clone.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
