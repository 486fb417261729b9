"""The examples a run uses: the validation pool prompts are scored on, in the race's order, and the labelled
examples shots are drawn from."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..data import Dataset, Example
from ..errors import InputError
from ..spec import TaskSpec


@dataclass
class Split:
    """`validation`: the pool prompts are scored on (never on their own shots). `train`: the labelled examples
    shots are drawn from. Without a validation file both come from the training file, so every labelled example
    sharpens the scores; with one (`held_out`), it stays a pure hold-out that never provides a shot."""

    train: list[Example]
    validation: list[Example]
    held_out: bool = False


def split_data(spec: TaskSpec, data: Dataset, validation: Dataset | None = None) -> Split:
    """The validation pool in the race's order (capped at `max_validation`), and the shot source."""
    settings = spec.optimizer
    if validation is not None:
        pool = race_order(list(validation.examples), settings.seed)
        return Split(list(data.examples), pool[: settings.max_validation], held_out=True)
    if len(data.examples) < 2:
        raise InputError(f"{data.path}: needs at least 2 examples")
    examples = race_order(list(data.examples), settings.seed)
    size = settings.validation_size
    wanted = len(examples) if size == "all" else round(len(examples) * size) if size < 1 else int(size)
    return Split(examples, examples[: max(1, min(wanted, settings.max_validation, len(examples)))])


def race_order(examples: list[Example], seed: int) -> list[Example]:
    """A seeded shuffle, then stratified by expected answer: each answer's examples spread evenly over the
    order, so every prefix the race scores prompts on has about the pool's mix of answers. A screening minibatch
    that happens to be mostly one label rewards a prompt that always gives that label; this takes the luck out.
    Free-text answers (all distinct) keep the shuffled order."""
    random.Random(f"{seed}:split").shuffle(examples)
    groups: dict[str, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.expected, []).append(example)
    rank = {id(e): (n + 0.5) / len(members) for members in groups.values() for n, e in enumerate(members)}
    return sorted(examples, key=lambda e: rank[id(e)])
