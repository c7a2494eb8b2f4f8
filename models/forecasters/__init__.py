"""Every ranked entry as one interface (base.py), and the registry that lists them (registry.py).

Built-in sources, in the ranking's order: the trained architectures (and their seed ensembles; Chronos-2's
fine-tuning among them), the naive baselines and ridge, the classical models, Chronos-2 zero-shot.
"""

from models.forecasters.base import (
    REFIT,
    Capabilities,
    Context,
    Description,
    EntryError,
    Fitted,
    Forecast,
    Forecaster,
    FutureInputs,
    NotApplicable,
    Span,
)
from models.forecasters.chronos import CHRONOS2, ChronosFinetuned, finetuned_entries, zeroshot_entries
from models.forecasters.classical import classical_entries
from models.forecasters.naive import SKILL_BASE, naive_entries
from models.forecasters.registry import entries, register, sources, unregister
from models.forecasters.trained import entry_name, register_trial_entries, trained_entries

register_trial_entries(CHRONOS2, finetuned_entries, ranked_as=ChronosFinetuned.name)
register("trained", trained_entries)
register("naive", naive_entries)
register("classical", classical_entries)
register("chronos2_zeroshot", zeroshot_entries)

__all__ = [
    "REFIT", "SKILL_BASE", "Capabilities", "Context", "Description", "EntryError", "Fitted", "Forecast", "Forecaster",
    "FutureInputs", "NotApplicable", "Span", "entries", "entry_name", "register", "sources", "unregister",
]
