"""Write the benchmark-only weak-signal tasks (issue 29), seeded and reproducible:
`python benchmarks/tasks/make_weak_tasks.py`.

Three tasks where the embedded model (SmolLM2-135M) gets nothing right with the seed prompt (it answers in a
sentence, so an exact match never holds) and only 10-30 % with a few shots, and the labelled pool is small (36
examples), as a user with a handful of hard examples has it:

- `past`: the simple past of an irregular English verb ("swim" -> "swam"), a free-text answer;
- `product`: the product of a number up to 12 and a digit ("7 x 8" -> "56"), a times table recalled, a short
  numeric answer (8-12 % with three random shots, 52 test examples);
- `addition`: the sum of a two-digit and a one-digit number ("47 + 8" -> "55"), a short numeric answer scored
  by exact match.

Answers come from the word lists and from arithmetic, never from a model. Stdlib only; each file holds distinct
rows, none shared between a task's train and test files.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent / "datasets"))
from make_datasets import write  # noqa: E402  (the project's dataset writer: seeded, distinct rows)

PAST = """arise arose|awake awoke|bear bore|beat beat|become became|begin began|bend bent|bet bet|bind bound|bite bit|
bleed bled|blow blew|break broke|breed bred|bring brought|build built|burst burst|buy bought|cast cast|catch caught|
choose chose|cling clung|come came|cost cost|creep crept|cut cut|deal dealt|dig dug|do did|draw drew|drink drank|
drive drove|eat ate|fall fell|feed fed|feel felt|fight fought|find found|flee fled|fling flung|fly flew|
forbid forbade|forget forgot|forgive forgave|freeze froze|get got|give gave|go went|grind ground|grow grew|hang hung|
have had|hear heard|hide hid|hit hit|hold held|hurt hurt|keep kept|kneel knelt|know knew|lay laid|lead led|
leave left|lend lent|let let|light lit|lose lost|make made|mean meant|meet met|pay paid|put put|quit quit|
read read|ride rode|ring rang|rise rose|run ran|say said|see saw|seek sought|sell sold|send sent|set set|
shake shook|shine shone|shoot shot|shrink shrank|shut shut|sing sang|sink sank|sit sat|sleep slept|slide slid|
sling slung|speak spoke|spend spent|spin spun|spit spat|split split|spread spread|spring sprang|stand stood|
steal stole|stick stuck|sting stung|stink stank|strike struck|strive strove|swear swore|sweep swept|swim swam|
swing swung|take took|teach taught|tear tore|tell told|think thought|throw threw|tread trod|understand understood|
wake woke|wear wore|weave wove|weep wept|win won|wind wound|withdraw withdrew|write wrote|slay slew|stride strode|
undertake undertook|overcome overcame|mislead misled|uphold upheld"""
VERBS = [tuple(pair.split()) for pair in PAST.replace("\n", "").split("|")]


def past(rng) -> dict[str, str]:
    verb, answer = rng.choice(VERBS)
    return {"verb": verb, "past": answer}


def product(rng) -> dict[str, str]:
    a, b = rng.randint(2, 12), rng.randint(2, 9)
    return {"problem": f"{a} x {b}", "product": str(a * b)}


def addition(rng) -> dict[str, str]:
    a, b = rng.randint(11, 89), rng.randint(2, 9)
    return {"problem": f"{a} + {b}", "sum": str(a + b)}


if __name__ == "__main__":
    used = write("past_train.jsonl", past, 36, 291, set(), HERE)
    write("past_test.jsonl", past, len(VERBS) - 36, 292, used, HERE)
    used = write("addition_train.jsonl", addition, 36, 293, set(), HERE)
    write("addition_test.jsonl", addition, 96, 294, used, HERE)
    used = write("product_train.jsonl", product, 36, 297, set(), HERE)
    write("product_test.jsonl", product, 11 * 8 - 36, 298, used, HERE)
