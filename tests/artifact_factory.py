"""Hand-made artifacts for the toy task: a chosen prompt without running an optimisation (no LM call).

With the toy model (see toy_model.py) and the toy task's free-text answers:
SEED (the spec's instructions, no shots) scores 0 %, ONE_WORD scores 100 % minus the hard reviews,
and any prompt with two shots scores 100 %.
"""

from __future__ import annotations

from pathlib import Path

from opro_cli.artifact import Artifact, DataRecord, FormatRecord, RunRecord, Scores, public_spec, save_artifact, versions
from opro_cli.search.state import Candidate, StepRecord
from opro_cli.scoring.prompt import Prompt, Shot
from opro_cli.spec import load_spec

ONE_WORD = "Answer with one word: positive or negative."
TWO_SHOTS = (
    Shot(inputs={"review": "great fun"}, answer="positive"),
    Shot(inputs={"review": "dull and boring"}, answer="negative"),
)


def make_artifact(
    spec_path: Path,
    path: Path,
    instructions: str | None = None,
    shots: tuple[Shot, ...] = (),
    history: list[StepRecord] | None = None,
    seed_score: float = 0.0,
) -> Path:
    spec = load_spec(spec_path)
    best = max([seed_score, *(record.best_score for record in history or [])])
    artifact = Artifact(
        task=spec.name,
        instructions=instructions or spec.prompt.instructions,
        shots=list(shots),
        answer_format=FormatRecord(type="text", choices=[], fields={}, structured=False),
        scores=Scores(seed_validation=seed_score, best_validation=best),
        history=history or [],
        spec=public_spec(spec),
        data=DataRecord(train_sha256="0" * 64, validation_sha256=None, train_examples=10, validation_examples=5),
        seed=spec.optimizer.seed,
        run_id="handmade",
        models={"model": spec.model.name, "optimizer_model": spec.proposer.name},
        versions=versions(),
        run=RunRecord(started_at="2025-01-01T00:00:00+00:00", finished_at="2025-01-01T00:01:00+00:00",
                      stopped="completed", usage={"calls": 0}),
    )
    save_artifact(path, artifact)
    return path


def step(number: int, scores: list[float], best: float, instructions: str = "Try {n}.", shots: int = 0) -> StepRecord:
    """A history step whose candidates have the given scores."""
    chosen = TWO_SHOTS[:shots]
    candidates = [
        Candidate(prompt=Prompt(instructions=instructions.format(n=f"{number}.{i}"), shots=chosen), score=score, step=number)
        for i, score in enumerate(scores)
    ]
    return StepRecord(step=number, epoch=0, batch_reward=best / 2, parse_failures=0, shots_from_predictions=shots,
                      proposals=len(scores), proposals_kept=len(scores), candidates=candidates, best_score=best)
