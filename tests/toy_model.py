"""A deterministic "toy model" for offline tests: sentiment of short synthetic reviews (and, at the end of this
file, ``booking_answer``: booking requests answered as a number or a JSON object of several fields).

Pure functions, no litellm. Both test doubles answer with it: the in-process litellm provider
(`toy_provider.py`, model ``toy/sentiment``) and the loopback HTTP server (`fault_server.py`).
Tests rely on the rules below; change them only together with the tests.

Labels: ``positive`` / ``negative``.

Rules of ``answer(messages, seed=..., response_format=...)``, checked in this order:

1. **Optimizer call.** If the content of ANY message contains ``<INS>`` (the OPRO meta-prompt asks for a new
   instruction between ``<INS>`` and ``</INS>``):

   - ``seed`` is an int divisible by 5 (0, 5, 10, ...): chatter WITHOUT tags (see ``CHATTER``), to exercise
     defensive parsing;
   - otherwise ``"Here is a new one: <INS>{INSTRUCTIONS[i]}</INS>"`` with ``i = 0`` if ``seed`` is None else
     ``seed % len(INSTRUCTIONS)``.

   Exactly ``INSTRUCTIONS[3]`` and ``INSTRUCTIONS[6]`` contain the phrase ``one word`` (see
   ``ONE_WORD_INDICES``): seeds 3, 6, 11, 14, 19, 22, ... propose a winning instruction.

2. **Task call.** The review is taken from the LAST user message: the text after the last ``Review:``
   (case-insensitive) up to the end of that line, or the whole message when there is no ``Review:`` marker
   (see ``extract_review``). Its true label is ``label_of(review)``: count words (lower-cased, ``[a-z]+``) that
   are in ``POSITIVE`` vs ``NEGATIVE``; more positive -> ``positive``, otherwise (ties too) -> ``negative``.

   ``shots`` = number of assistant messages before the last user message;
   ``system`` = text of all system messages.

   a. ``response_format`` asks for JSON (``type`` is ``json_schema`` or ``json_object``): return
      ``json.dumps(obj)`` where ``obj`` has every property of the schema in schema order (if a schema is
      given) with a short string for each non-``answer`` property, and ``"answer": label`` (always the TRUE
      label, added last if the schema lacks it). Without a schema: ``{"answer": label}``.
   b. else if ``shots >= 1`` or ``"one word"`` occurs (case-insensitive) in ``system``: the bare label, EXCEPT
      that with ``shots < 2`` a "hard" review (``is_hard``: its whitespace word count is divisible by 7)
      gets the WRONG label. Two or more shots fix that.
   c. else: a sentence ``"I think this review is {label}."`` (true label; fails exact match, contains label).

   So on a dataset with some hard reviews: plain instruction -> 0 % exact match; "one word" instruction or
   1 shot -> 100 % minus the hard ones; >= 2 shots -> 100 %; JSON output -> 100 %.

``usage(messages, text)`` gives deterministic (prompt_tokens, completion_tokens): whitespace word counts of all
message contents and of the answer.

``synthetic_reviews(n, seed)`` builds labelled reviews from these word lists (deterministic for a seed).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Mapping
from typing import Any

POSITIVE: tuple[str, ...] = ("good", "great", "wonderful", "loved", "excellent", "moving", "fun", "brilliant")
NEGATIVE: tuple[str, ...] = ("bad", "awful", "boring", "terrible", "hated", "dull", "poor", "waste")
LABELS: tuple[str, str] = ("positive", "negative")

INSTRUCTIONS: tuple[str, ...] = (
    "Classify the sentiment of the review.",
    "Read the review carefully and decide whether it is positive or negative.",
    "Determine the overall sentiment expressed by the reviewer.",
    "Answer with one word: positive or negative.",
    "Think about how the reviewer feels and state the sentiment.",
    "Is the review positive or negative? Explain briefly.",
    "Reply in one word, positive or negative, and nothing else.",
    "Label the sentiment of this movie review.",
)
ONE_WORD_INDICES: tuple[int, ...] = tuple(i for i, s in enumerate(INSTRUCTIONS) if "one word" in s.lower())
CHATTER = "Great question! The scores are improving nicely; I would keep going in this direction."

_WORD = re.compile(r"[a-z]+")
_REVIEW_MARKER = re.compile(r"review\s*:", re.IGNORECASE)
_POS = frozenset(POSITIVE)
_NEG = frozenset(NEGATIVE)


def content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or a list of OpenAI content parts (their ``text`` joined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return str(content)


def label_of(text: str) -> str:
    """True label of a review: more POSITIVE than NEGATIVE words -> "positive", else (ties too) "negative"."""
    words = _WORD.findall(text.lower())
    pos = sum(1 for w in words if w in _POS)
    neg = sum(1 for w in words if w in _NEG)
    return "positive" if pos > neg else "negative"


def is_hard(review: str) -> bool:
    """A review the model gets wrong with fewer than 2 shots: its whitespace word count is divisible by 7."""
    return len(review.split()) % 7 == 0


def extract_review(content: str) -> str:
    """The review in a user message: text after the last ``Review:`` up to end of line, else the whole text."""
    matches = list(_REVIEW_MARKER.finditer(content))
    if not matches:
        return content.strip()
    rest = content[matches[-1].end() :]
    return rest.split("\n", 1)[0].strip()


def _role(message: Mapping[str, Any]) -> str:
    return str(message.get("role", ""))


def _last_user_index(messages: list[Mapping[str, Any]]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if _role(messages[i]) == "user":
            return i
    return -1


def _wants_json(response_format: Any) -> bool:
    return isinstance(response_format, Mapping) and response_format.get("type") in ("json_schema", "json_object")


def _schema_properties(response_format: Mapping[str, Any]) -> list[str]:
    schema: Any = None
    if response_format.get("type") == "json_schema":
        js = response_format.get("json_schema")
        if isinstance(js, Mapping):
            schema = js.get("schema")
    if schema is None:  # llama-cpp style {"type": "json_object", "schema": {...}}
        schema = response_format.get("schema")
    if isinstance(schema, Mapping) and isinstance(schema.get("properties"), Mapping):
        return [str(k) for k in schema["properties"]]
    return []


def answer(
    messages: list[dict],
    *,
    seed: int | None = None,
    response_format: dict | None = None,
) -> str:
    """The toy model's reply to a chat ``messages`` list (see the module docstring for the rules)."""
    texts = [content_text(m.get("content")) for m in messages]

    # 0. A judge's call (the built-in judge prompt): the toy judge answers, so a server can judge too.
    if texts and texts[-1].startswith("You are grading an answer"):
        return judge_answer(messages, response_format=response_format)

    # 1. Optimizer call.
    if any("<INS>" in t for t in texts):
        if seed is not None and int(seed) % 5 == 0:
            return CHATTER
        index = 0 if seed is None else int(seed) % len(INSTRUCTIONS)
        return f"Here is a new one: <INS>{INSTRUCTIONS[index]}</INS>"

    # 2. Task call.
    last_user = _last_user_index(messages)
    review = extract_review(texts[last_user]) if last_user >= 0 else ""
    label = label_of(review)

    if _wants_json(response_format):
        assert response_format is not None
        obj: dict[str, str] = {}
        for name in _schema_properties(response_format):
            obj[name] = label if name == "answer" else f"The review reads as {label}."
        obj.setdefault("answer", label)
        return json.dumps(obj)

    shots = sum(1 for m in messages[: max(last_user, 0)] if _role(m) == "assistant")
    system = " ".join(t for m, t in zip(messages, texts) if _role(m) == "system").lower()
    if shots >= 1 or "one word" in system:
        if shots < 2 and is_hard(review):
            return "negative" if label == "positive" else "positive"
        return label
    return f"I think this review is {label}."


def usage(messages: Iterable[Mapping[str, Any]], text: str) -> tuple[int, int]:
    """Deterministic (prompt_tokens, completion_tokens): whitespace word counts."""
    prompt = sum(len(content_text(m.get("content")).split()) for m in messages)
    return prompt, len((text or "").split())


_FILLER = ("the", "plot", "was", "and", "acting", "felt", "film", "ending", "quite", "really", "story", "music")


def synthetic_reviews(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` deterministic (review, label) pairs built from the word lists; labels alternate, some are hard."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for i in range(n):
        want = LABELS[i % 2]
        strong, weak = (POSITIVE, NEGATIVE) if want == "positive" else (NEGATIVE, POSITIVE)
        words = [rng.choice(strong) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.3:
            words.append(rng.choice(weak))
            words.append(rng.choice(strong))
        words += [rng.choice(_FILLER) for _ in range(rng.randint(2, 8))]
        rng.shuffle(words)
        review = " ".join(words)
        assert label_of(review) == want
        out.append((review, want))
    return out


# ---------------------------------------------------------------------------------------------------------------
# ``toy/booking``: requests to book a stay, answered as one number or as a JSON object of several fields.
#
# A request reads ``"{person} books {nights} nights in {destination} at {rate} euros a night."`` (taken from the
# last user message after the last ``Request:``). Its fields: ``person``, ``destination``, ``nights`` (int),
# ``total`` (nights * rate). Rules of ``booking_answer(messages, seed=..., response_format=...)``:
#
# 1. Optimizer call (``<INS>`` in any message): as ``answer`` (chatter for seeds divisible by 5, else
#    ``"Here is a new one: <INS>{BOOKING_INSTRUCTIONS[seed % n]}</INS>"``).
# 2. Task call, ``shots`` = assistant messages before the last user message. Without a shot the model is sloppy:
#    the destination comes as ``"the city of {destination}"`` and the total 0.4 too high; with a shot both are right.
#    a. ``response_format`` with a JSON schema: a JSON object with exactly the schema's properties, in order;
#       ``person``, ``destination``, ``nights``, ``total`` as above, any other key ``""``.
#    b. else, when a system message says ``Reply with a JSON object with the fields "a", "b" (...), ...``: a JSON
#       object with the quoted names of that sentence, in order; keys it does not know are LEFT OUT (a model that
#       forgets a field).
#    c. else one number, the total: ``"{total}"`` with a shot, ``"{nights} nights in {destination}: about
#       {total + 0.4:.1f} euros."`` without (the last number in the sentence is the total).
# An unreadable request gives ``""`` for every field (a) / (b) and ``"I cannot tell."`` (c).
# ---------------------------------------------------------------------------------------------------------------

PERSONS: tuple[str, ...] = ("Anna", "Ben", "Carl", "Dora", "Emil", "Fay", "Gus", "Hana")
DESTINATIONS: tuple[str, ...] = ("Paris", "Rome", "Oslo", "Lima", "Kyoto")
BOOKING_INSTRUCTIONS: tuple[str, ...] = (
    "Extract the booking from the request.",
    "Read the request and fill in the booking.",
    "Who books, where, for how many nights, and at what total price?",
    "Fill in the booking fields from the request.",
)
SLOPPY_TOTAL = 0.4  # how far off the total is without a shot
_REQUEST_MARKER = re.compile(r"request\s*:", re.IGNORECASE)
_REQUEST = re.compile(r"(\w+) books (\d+) nights in (\w+) at (\d+) euros a night")
_FIELDS_SENTENCE = re.compile(r"Reply with a JSON object with the fields ([^\n]*)")


def booking_of(request: str) -> dict[str, Any] | None:
    """The true fields of a request, or None when it does not read as one."""
    found = _REQUEST.search(request)
    if found is None:
        return None
    person, nights, destination, rate = found.groups()
    return {"person": person, "destination": destination, "nights": int(nights), "total": int(nights) * int(rate)}


def _booking_values(booking: dict[str, Any] | None, shots: int) -> dict[str, Any]:
    if booking is None:
        return {"person": "", "destination": "", "nights": "", "total": ""}
    if shots >= 1:
        return dict(booking)
    return {**booking, "destination": f"the city of {booking['destination']}",
            "total": round(booking["total"] + SLOPPY_TOTAL, 1)}


def booking_answer(messages: list[dict], *, seed: int | None = None, response_format: dict | None = None) -> str:
    """The booking model's reply to a chat ``messages`` list (see the rules above)."""
    texts = [content_text(m.get("content")) for m in messages]
    if any("<INS>" in t for t in texts):
        if seed is not None and int(seed) % 5 == 0:
            return CHATTER
        index = 0 if seed is None else int(seed) % len(BOOKING_INSTRUCTIONS)
        return f"Here is a new one: <INS>{BOOKING_INSTRUCTIONS[index]}</INS>"

    last_user = _last_user_index(messages)
    content = texts[last_user] if last_user >= 0 else ""
    markers = list(_REQUEST_MARKER.finditer(content))
    request = content[markers[-1].end():].split("\n", 1)[0] if markers else content
    booking = booking_of(request)
    shots = sum(1 for m in messages[: max(last_user, 0)] if _role(m) == "assistant")
    values = _booking_values(booking, shots)

    keys = _schema_properties(response_format) if _wants_json(response_format) else []
    if keys:
        return json.dumps({key: values.get(key, "") for key in keys})
    system = "\n".join(t for m, t in zip(messages, texts) if _role(m) == "system")
    sentence = _FIELDS_SENTENCE.search(system)
    if sentence:
        named = re.findall(r'"([^"]+)"', sentence.group(1))
        return json.dumps({key: values[key] for key in named if key in values})
    if booking is None:
        return "I cannot tell."
    if shots >= 1:
        return str(values["total"])
    return f"{booking['nights']} nights in {booking['destination']}: about {values['total']:.1f} euros."


def synthetic_bookings(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` deterministic booking rows: ``request`` and its true ``person``, ``destination``, ``nights`` (2-4),
    ``rate`` (80-99) and ``total`` (160-396)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        person, destination = PERSONS[i % len(PERSONS)], rng.choice(DESTINATIONS)
        nights, rate = rng.randint(2, 4), rng.randint(80, 99)
        request = f"{person} books {nights} nights in {destination} at {rate} euros a night."
        rows.append({"request": request, "person": person, "destination": destination, "nights": nights,
                     "rate": rate, "total": nights * rate})
    return rows


# --- the toy judge (`toy/judge`): grades deterministically from the judge prompt it is sent --------------------

_QUOTED = re.compile(r"'([^']+)'")
_SECTION = re.compile(r"^(Rubric|The task's input|A reference answer[^\n]*|The answer to grade):\n(.*?)(?=\n\n|\Z)",
                      re.MULTILINE | re.DOTALL)


def judge_sections(prompt: str) -> dict[str, str]:
    """The built-in judge prompt's paragraphs by heading: rubric, input, reference, answer."""
    names = {"Rubric": "rubric", "The task's input": "input", "The answer to grade": "answer"}
    return {names.get(m.group(1), "reference"): m.group(2).strip() for m in _SECTION.finditer(prompt)}


def judge_answer(messages: list[dict], *, response_format: dict | None = None) -> str:
    """A verdict as JSON, reason first. With a reference shown, the answer passes when it names the reference's
    words; otherwise when it holds every word the rubric quotes ('like this'). On an integer scale the grade is
    the share of those words found, mapped onto the scale. Rubrics that say GARBLE get prose with no verdict,
    OUTSIDE a grade above the scale: the failure cases a real judge shows."""
    prompt = content_text(messages[_last_user_index(messages)].get("content"))
    parts = judge_sections(prompt)
    rubric, answer_text = parts.get("rubric", ""), parts.get("answer", "").lower()
    if "GARBLE" in rubric:
        return "I think this answer is rather nice, overall."
    wanted = _WORD.findall(parts["reference"].lower()) if "reference" in parts else \
        [w.lower() for w in _QUOTED.findall(rubric)]
    said = set(_WORD.findall(answer_text))
    found = [w for w in wanted if w in said]
    missing = [w for w in wanted if w not in said]
    share = len(found) / len(wanted) if wanted else 0.0
    reason = f"mentions {', '.join(found) or 'nothing required'}" + (f"; misses {', '.join(missing)}" if missing else "")
    scale = re.search(r"an integer from (\d+) \(worst\) to (\d+) \(best\)", prompt)
    if scale:
        low, high = int(scale.group(1)), int(scale.group(2))
        grade = high + 4 if "OUTSIDE" in rubric else round(low + share * (high - low))
        return json.dumps({"reason": reason, "score": grade})
    return json.dumps({"reason": reason, "score": "pass" if share == 1.0 else "fail"})
