"""A run's id (what a checkpoint and an artifact are matched by) must not move when the code is reorganised or
gains features that a spec does not use: a checkpoint written by an earlier version then still resumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from opro_cli.data import load_dataset
from opro_cli.scoring.runner import resolve_format
from opro_cli.search.trainer import run_id
from opro_cli.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
# Computed by the code before the restructure into subpackages and before several answer fields (cb82d63).
EARLIER_IDS = {
    ("configs/sentiment.yaml", "datasets/sentiment_train.jsonl"): "46722ad3d5fd5cf1",
    ("configs/topic.yaml", "datasets/topic_train.jsonl"): "7c334248004152fc",
    ("configs/topic_labels.yaml", "datasets/topic_train.jsonl"): "f80c99804dde14f0",
}


@pytest.mark.parametrize(("spec_file", "data_file"), sorted(EARLIER_IDS))
def test_the_shipped_examples_keep_the_run_id_earlier_versions_gave_them(spec_file, data_file):
    spec = load_spec(ROOT / spec_file)
    data = load_dataset(ROOT / data_file, spec)
    fmt = resolve_format(spec, spec.model, [e.expected for e in data.examples])
    assert run_id(spec, data, None, fmt) == EARLIER_IDS[(spec_file, data_file)]
