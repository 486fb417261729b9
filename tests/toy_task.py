"""A complete toy task on disk (spec + train/test JSONL) for tests that run the CLI on the toy model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import toy_model


@dataclass
class ToyTask:
    spec: Path
    train: Path
    test: Path
    artifact: Path


def spec_dict(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "toy-sentiment",
        "description": "Classify the sentiment of a review.",
        "model": {"name": "toy/sentiment", "temperature": 0},
        "prompt": {"instructions": "Classify the sentiment of the review.", "input": "Review: {review}", "output": "label"},
        "reward": {"type": "exact_match"},
        "optimizer": {"batch_size": 8, "candidates": 3, "validation_size": 12, "budget": 100, "seed": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


def write_rows(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"review": r, "label": l}) + "\n" for r, l in rows), encoding="utf-8")
    return path


def write_toy_task(directory: Path, train_size: int = 40, test_size: int = 30, **overrides: Any) -> ToyTask:
    spec = directory / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_dict(**overrides), sort_keys=False), encoding="utf-8")
    return ToyTask(
        spec=spec,
        train=write_rows(directory / "train.jsonl", toy_model.synthetic_reviews(train_size, 0)),
        test=write_rows(directory / "test.jsonl", toy_model.synthetic_reviews(test_size, 1)),
        artifact=directory / "best.json",
    )
