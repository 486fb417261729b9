"""How an answer is scored, as the spec declares it: the reward types and their settings (checked at load time).

The scoring itself lives in `opro_cli.scoring.rewards`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .strict import StrictModel

NORMALIZATIONS = ("strip", "lowercase", "collapse_whitespace", "strip_punctuation", "strip_quotes")


class ExactMatchReward(StrictModel):
    type: Literal["exact_match"]
    normalize: list[Literal[NORMALIZATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["strip", "lowercase", "collapse_whitespace", "strip_punctuation"]
    )


class RegexReward(StrictModel):
    """Either the pattern must match (`{expected}` is replaced by the escaped expected value), or, when `group`
    is set, the group it captures is compared with the expected value after the normalisations."""

    type: Literal["regex"]
    pattern: str = Field(min_length=1)
    group: int | str | None = None
    ignore_case: bool = True
    normalize: list[Literal[NORMALIZATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["strip", "lowercase", "collapse_whitespace", "strip_punctuation"]
    )

    @model_validator(mode="after")
    def _compiles(self) -> RegexReward:
        try:
            compiled = re.compile(self.pattern.replace("{expected}", "x"))
        except re.error as exc:
            raise ValueError(f"invalid regex {self.pattern!r}: {exc}") from None
        if self.group is not None:
            if isinstance(self.group, int) and self.group > compiled.groups:
                raise ValueError(f"pattern has {compiled.groups} group(s), group {self.group} asked")
            if isinstance(self.group, str) and self.group not in compiled.groupindex:
                raise ValueError(f"pattern has no group named {self.group!r}")
        return self


Reward = Annotated[ExactMatchReward | RegexReward, Field(discriminator="type")]
REWARD_TYPES = frozenset({"exact_match", "regex"})  # the tags of the `Reward` union
