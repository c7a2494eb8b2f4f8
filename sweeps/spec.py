"""One search spec: what a value in a model section of the config may be, parsed from the YAML users write.

    hidden_size: 64                          a fixed value
    hidden_size: {grid: [32, 128]}           every value, each a trial (grid search: the cross product)
    hidden_size: {choice: [32, 64, 128]}     one of these values, sampled
    dropout: {uniform: [0.0, 0.3]}           a float in [low, high], sampled uniformly
    learning_rate: {loguniform: [1e-4, 1e-2]} a float in [low, high], sampled uniformly on a log scale
    num_layers: {int: [1, 3]}                an integer in [low, high] (both included)

Each spec knows its values, its centre (where a searcher starts when the tool's default lies outside it), the
smallest value (the smoke profile's), its two ends (the probe trials'), and its Ray Tune and Optuna forms; it
samples through Ray Tune's own domains, so no sampler is written here. A spec serialises back to the YAML form
it was written in, so a resolved config.yaml reloads to the same config.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    model_serializer,
    model_validator,
)

SPEC_KINDS = ("grid", "choice", "uniform", "loguniform", "int")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class SearchSpec(BaseModel):
    """A searched value: `{kind: [...]}` in YAML. Subclasses set `kind` and check their list."""

    model_config = ConfigDict(frozen=True)
    kind: ClassVar[str]
    categorical: ClassVar[bool] = False
    arg: list[Any]

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and set(raw) == {cls.kind}:
            arg = raw[cls.kind]
            if not isinstance(arg, list):
                raise ValueError(f"{cls.kind} takes a list, got {arg!r}")
            return {"arg": arg}
        return raw

    @model_serializer
    def _to_yaml(self) -> dict[str, list[Any]]:
        return {self.kind: list(self.arg)}

    @property
    def values(self) -> list[Any]:
        """Every value a grid or choice can take; a range's two bounds (what a check of allowed values reads)."""
        return list(self.arg)

    def ends(self) -> tuple[Any, Any]:
        return self.arg[0], self.arg[-1]

    def centre(self) -> Any:
        return self.arg[0]

    def smallest(self) -> Any:
        return self.arg[0]

    def holds(self, value: Any) -> bool:
        """Whether `value` (the tool's default) lies in the space; a bool never stands for a number or back."""
        if value is None or isinstance(value, bool) != isinstance(self.arg[0], bool):
            return False
        return _is_number(value) and self.arg[0] <= value <= self.arg[1]

    def tune(self) -> Any:
        raise NotImplementedError

    def optuna(self) -> Any:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn by Ray Tune's own domain with the caller's seeded generator."""
        return self.tune().sample(random_state=rng)


class _Categorical(SearchSpec):
    categorical: ClassVar[bool] = True

    @model_validator(mode="after")
    def _not_empty(self) -> _Categorical:
        if not self.arg:
            raise ValueError(f"empty {self.kind} expands to zero trials; give at least one value")
        return self

    def smallest(self) -> Any:
        return min(self.arg) if all(_is_number(v) for v in self.arg) else self.arg[0]

    def holds(self, value: Any) -> bool:
        if value is None or isinstance(value, bool) != isinstance(self.arg[0], bool):
            return False
        return value in self.arg

    def optuna(self) -> Any:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(list(self.arg))

    def tune(self) -> Any:
        from ray import tune

        return tune.choice(list(self.arg))


class GridSpec(_Categorical):
    """Every value is a trial (a grid sweep takes the cross product); an adaptive search treats it as a choice."""

    kind: ClassVar[str] = "grid"

    def tune(self) -> Any:
        from ray import tune

        return tune.grid_search(list(self.arg))


class ChoiceSpec(_Categorical):
    kind: ClassVar[str] = "choice"


class _Range(SearchSpec):
    @model_validator(mode="after")
    def _low_below_high(self) -> _Range:
        a = self.arg
        text = [v for v in a if isinstance(v, str)]
        if text:
            raise ValueError(f"{self.kind} takes numbers, got {text!r}: YAML reads 1e-4 as text, write 0.0001")
        if len(a) != 2 or not all(_is_number(v) for v in a) or a[0] >= a[1]:
            raise ValueError(f"{self.kind} takes [low, high] with low < high, got {a!r}")
        return self

    def centre(self) -> Any:
        return (self.arg[0] + self.arg[1]) / 2

    def sample(self, rng: np.random.Generator) -> float:
        return float(super().sample(rng))


class UniformSpec(_Range):
    kind: ClassVar[str] = "uniform"

    def tune(self) -> Any:
        from ray import tune

        return tune.uniform(float(self.arg[0]), float(self.arg[1]))

    def optuna(self) -> Any:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(float(self.arg[0]), float(self.arg[1]))


class LogUniformSpec(_Range):
    kind: ClassVar[str] = "loguniform"

    @model_validator(mode="after")
    def _positive_low(self) -> LogUniformSpec:
        if self.arg[0] <= 0:
            raise ValueError(f"loguniform needs a positive low bound, got {self.arg[0]}")
        return self

    def centre(self) -> float:
        return math.sqrt(self.arg[0] * self.arg[1])  # the geometric midpoint: the middle of a log scale

    def tune(self) -> Any:
        from ray import tune

        return tune.loguniform(float(self.arg[0]), float(self.arg[1]))

    def optuna(self) -> Any:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(float(self.arg[0]), float(self.arg[1]), log=True)


class IntSpec(SearchSpec):
    kind: ClassVar[str] = "int"

    @model_validator(mode="after")
    def _integer_bounds(self) -> IntSpec:
        a = self.arg
        if len(a) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in a) or a[0] > a[1]:
            raise ValueError(f"int takes [low, high] (integers, low <= high), got {a!r}")
        return self

    def centre(self) -> int:
        return (self.arg[0] + self.arg[1]) // 2

    def holds(self, value: Any) -> bool:
        return isinstance(value, int) and super().holds(value)

    def tune(self) -> Any:
        from ray import tune

        return tune.randint(self.arg[0], self.arg[1] + 1)  # Ray's upper bound is exclusive; ours is included

    def optuna(self) -> Any:
        from optuna.distributions import IntDistribution

        return IntDistribution(int(self.arg[0]), int(self.arg[1]))

    def sample(self, rng: np.random.Generator) -> int:
        return int(super().sample(rng))


_SPEC_TYPES: dict[str, type[SearchSpec]] = {
    t.kind: t for t in (GridSpec, ChoiceSpec, UniformSpec, LogUniformSpec, IntSpec)}
FixedValue = StrictBool | StrictInt | StrictFloat | StrictStr | None


def _tag(raw: Any) -> str:
    if isinstance(raw, SearchSpec):
        return raw.kind
    if isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in SPEC_KINDS:
        return next(iter(raw))
    return "fixed"


# A model section's value: one of the five specs or a fixed value, told apart by the spec's single key.
SectionValue = Annotated[
    Annotated[GridSpec, Tag("grid")] | Annotated[ChoiceSpec, Tag("choice")]
    | Annotated[UniformSpec, Tag("uniform")] | Annotated[LogUniformSpec, Tag("loguniform")]
    | Annotated[IntSpec, Tag("int")] | Annotated[FixedValue, Tag("fixed")],
    Discriminator(_tag),
]


def parse_value(raw: Any, where: str) -> SearchSpec | Any:
    """A section's value as written: a spec (`{grid: [...]}` ...) becomes its object, a plain value stays.
    Raises ValueError naming `where`, what is wrong and what to write."""
    if isinstance(raw, SearchSpec):
        return raw
    if isinstance(raw, list):
        raise ValueError(f"{where}: a list is not one value; to search these values write {{grid: {raw!r}}} "
                         f"(each a trial) or {{choice: {raw!r}}} (sampled)")
    if not isinstance(raw, dict):
        return raw
    kinds = ", ".join(SPEC_KINDS)
    if len(raw) != 1 or next(iter(raw)) not in SPEC_KINDS:
        raise ValueError(f"{where}: a search spec is one of {{{kinds}: ...}}, got {raw!r}")
    try:
        return _SPEC_TYPES[next(iter(raw))].model_validate(raw)
    except ValidationError as err:
        msg = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
        raise ValueError(f"{where}: {msg}") from None


def checked_values(value: SearchSpec | Any) -> list[Any]:
    """The values a check of allowed values must read: a spec's values (a range's bounds), or the fixed value."""
    return value.values if isinstance(value, SearchSpec) else [value]


__all__ = ["SPEC_KINDS", "ChoiceSpec", "FixedValue", "GridSpec", "IntSpec", "LogUniformSpec", "SearchSpec",
           "SectionValue", "UniformSpec", "checked_values", "parse_value"]
