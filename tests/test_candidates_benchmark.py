"""`benchmarks/candidates.py` reads every prompt a run looked at out of its artifact's history: each distinct
prompt once (a prompt scored further in a later step keeps its latest score), one per answer format."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import candidates as benchmark  # noqa: E402


def _candidate(answer: str, score: float, examples: int, structured: bool = False) -> dict:
    shot = {"inputs": {"text": f"an example of {answer}"}, "answer": answer, "fields": {}}
    return {"prompt": {"instructions": "Classify.", "shots": [shot]}, "structured": structured, "score": score,
            "examples": examples}


def test_each_prompt_once_with_its_latest_score_and_one_per_answer_format():
    artifact = {"history": [
        {"candidates": [_candidate("a", 0.5, 8), _candidate("b", 0.25, 8), _candidate("a", 0.5, 8, structured=True)]},
        {"candidates": [_candidate("a", 0.75, 24)]},
    ]}
    seen = benchmark.candidates(artifact)
    assert len(seen) == 3
    scores = sorted((structured, score, examples) for _, structured, score, examples in seen.values())
    assert scores == [(False, 0.25, 8), (False, 0.75, 24), (True, 0.5, 8)]
    key = benchmark.prompt_key("Classify.", artifact["history"][1]["candidates"][0]["prompt"]["shots"], False)
    assert seen[key][0].shots[0].answer == "a"
