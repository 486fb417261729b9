"""When the search returns the seed prompt, the artifact names the candidate that came closest and the summary says
why it lost and what would help (issue 29). No LM: hand-built search states."""

from opro_cli.jobs.optimizing import closest, scores
from opro_cli.reports.summaries import seed_kept_note
from opro_cli.scoring.prompt import Prompt, Shot
from opro_cli.search.candidates import add_entries
from opro_cli.search.state import accept, initial_state, with_rewards

SEED = Prompt(instructions="Do the task.")
POOL = range(40)


def shot(i: int) -> tuple[Shot, ...]:
    return (Shot(inputs={"x": str(i)}, answer=str(i)),)


def state_with(candidates: list[dict[int, float]]):
    """The seed prompt right on no example of the pool, and one candidate per given rewards."""
    state = initial_state(SEED, False)
    state = with_rewards(state, state.seed_id, {i: 0.0 for i in POOL})
    state, ids = add_entries(state, [shot(n) for n in range(len(candidates))], [], (False,))
    for name, rewards in zip(ids, candidates):
        state = with_rewards(state, name, rewards)
    return state, ids


def whole_pool(state, name: str) -> int:
    """Evaluations the candidate lacks to cover the pool (the trainer's completion, without shots)."""
    return sum(1 for i in POOL if i not in state.entries[name].rewards)


def test_the_closest_is_the_largest_lead_over_the_seed_prompt_and_says_whether_it_covered_the_pool():
    screened = {i: (1.0 if i < 3 else 0.0) for i in range(8)}  # 3 of 8: the best score, but a short lead
    full = {i: (1.0 if i < 4 else 0.0) for i in POOL}  # 4 of 40: the larger lead
    state, ids = state_with([screened, full])
    found = closest(state, whole_pool)
    assert (found.better, found.worse, found.examples, found.whole_pool) == (4, 0, 40, True)
    assert found.score == 0.1 and found.p_value == 1 / 32  # 4 wins, 0 losses: the guard's mid-p value


def test_a_candidate_cut_short_is_reported_as_such():
    state, _ = state_with([{i: (1.0 if i in (0, 1) else 0.0) for i in range(8)}])
    found = closest(state, whole_pool)
    assert (found.better, found.examples, found.whole_pool) == (2, 8, False)


def test_nothing_is_closest_when_no_candidate_was_scored():
    state, _ = state_with([{}])
    assert closest(state, whole_pool) is None


def test_the_artifact_names_the_closest_only_when_the_seed_prompt_is_returned():
    state, ids = state_with([{i: (1.0 if i < 9 else 0.0) for i in POOL}])
    assert scores(state, whole_pool, 100, state.spent).closest.better == 9
    assert scores(accept(state, ids[0]), whole_pool, 100, state.spent).closest is None


def test_the_note_asks_for_budget_when_the_closest_never_reached_the_whole_pool():
    state, _ = state_with([{i: (1.0 if i < 3 else 0.0) for i in range(8)}])
    note = seed_kept_note(closest(state, whole_pool))
    assert "the seed prompt is returned" in note and "3 examples better" in note and "on 8 examples" in note
    assert "budget" in note and "more labelled examples" not in note


def test_the_note_asks_for_data_when_the_closest_covered_the_pool_and_the_test_was_not_sure():
    state, _ = state_with([{i: (1.0 if i < 3 else 0.0) for i in POOL}])  # 3 wins, 0 losses: mid-p 1/16
    note = seed_kept_note(closest(state, whole_pool))
    assert "on all 40 examples" in note and "3 examples better" in note and "0 worse" in note
    assert "more labelled examples" in note and "budget" not in note
