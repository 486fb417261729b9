"""Write the benchmark-only judged task `news` (seeded, reproducible): `python benchmarks/tasks/make_judged_task.py`.

One-sentence summaries of short news items, graded by a `judge` reward against a rubric (issue 35): the item
names a person, what they did and where, among details a summary should leave out. The reference summary
follows from the fragments, never from a model. Stdlib only; no row shared between train and test.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent / "datasets"))
from make_datasets import write  # noqa: E402  (the project's dataset writer: seeded, distinct rows)

PEOPLE = ["Maria Lopez", "Tom Becker", "Priya Nair", "Lars Holm", "Ana Costa", "Kenji Sato", "Fatima Idris",
          "Oliver Grant", "Chloe Martin", "Mateo Ruiz", "Ingrid Berg", "Sam Okafor"]
ROLES = ["a nurse", "a teacher", "a baker", "a retired pilot", "a student", "a farmer", "a librarian", "an engineer"]
PLACES = ["Lisbon", "Madrid", "Vienna", "Prague", "Oslo", "Dublin", "Athens", "Berlin", "Rome", "Warsaw"]
DEEDS = [  # (what the text says, what the reference summary says)
    ("won the city's chess championship", "won the chess championship"),
    ("swam across the harbour to raise money for the local hospital", "swam across the harbour for charity"),
    ("opened a free repair café for bicycles and radios", "opened a free repair café"),
    ("found a Roman coin while digging a vegetable garden", "found a Roman coin in a garden"),
    ("planted four hundred trees along the river with volunteers", "planted four hundred trees along the river"),
    ("rescued a dog that had fallen through the ice of a lake", "rescued a dog from an icy lake"),
    ("set a national record for the longest solo kayak trip", "set a national kayak record"),
    ("returned a wallet holding two thousand euros to its owner", "returned a lost wallet with two thousand euros"),
    ("taught a free sign-language class to a hundred neighbours", "taught a free sign-language class"),
    ("built a small library in an old telephone box", "built a library in a telephone box"),
]
DAYS = ["on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "at the weekend"]
DETAILS = [
    "The weather was cold and grey all day.", "A local radio station covered the event.",
    "Several neighbours came to watch.", "The mayor sent a short message of thanks.",
    "It was the first time in ten years.", "Photos of the day were shared widely online.",
]
QUOTES = ['"I just wanted to help," they said.', '"It felt like the right thing to do," they said.',
          '"I never expected this much attention," they said.', '"We will do it again next year," they said.']


def item(rng) -> dict[str, str]:
    who, role, place, day = rng.choice(PEOPLE), rng.choice(ROLES), rng.choice(PLACES), rng.choice(DAYS)
    deed, short = rng.choice(DEEDS)
    text = f"{who}, {role} from {place}, {deed} {day}. {rng.choice(DETAILS)} {rng.choice(QUOTES)}"
    return {"text": text, "summary": f"{who} {short} in {place}."}


if __name__ == "__main__":
    used = write("news_train.jsonl", item, 40, 41, set(), HERE)
    write("news_test.jsonl", item, 60, 42, used, HERE)
