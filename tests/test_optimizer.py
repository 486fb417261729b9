"""The FewShotOPRO step without any LM: seeded, per-prediction rewards, best scored prompt wins."""

from opro_cli.optimizer import (
    Candidate,
    Prediction,
    StepRecord,
    candidate_prompts,
    initial_state,
    observe_batch,
    proposals_exhausted,
    record_scores,
    step_rng,
)
from opro_cli.prompt import Prompt, Shot
from opro_cli.spec import OptimizerSpec

SETTINGS = OptimizerSpec(k=2, k_best=4)


def prediction(i: int, reward: float) -> Prediction:
    return Prediction(inputs={"x": f"input {i}"}, expected=f"out {i}", raw="...", answer="a", reward=reward)


def state():
    return initial_state([Candidate(prompt=Prompt(instructions="Do the task."), score=0.25, step=0)])


def test_shots_come_only_from_correct_predictions():
    batch = [prediction(i, float(i % 2)) for i in range(8)]
    new, shots, from_predictions = observe_batch(state(), batch, SETTINGS, step_rng(0, 1))
    assert from_predictions == 2
    correct = {p.inputs["x"] for p in batch if p.reward == 1.0}
    assert all(s.inputs["x"] in correct for s in shots)
    assert all(s.answer == f"out {s.inputs['x'].split()[-1]}" for s in shots)  # the expected answer
    assert len(new.predictions) == SETTINGS.k_best and all(p.reward == 1.0 for p in new.predictions)


def test_shot_draws_are_seeded():
    batch = [prediction(i, 1.0) for i in range(8)]
    def draw(seed: int) -> tuple[str, ...]:
        return tuple(s.inputs["x"] for s in observe_batch(state(), batch, SETTINGS, step_rng(seed, 1))[1])

    assert draw(3) == draw(3)
    assert len({draw(seed) for seed in range(6)}) > 1


def test_labelled_examples_fill_in_when_nothing_is_correct():
    batch = [prediction(i, 0.0) for i in range(5)]
    _, shots, from_predictions = observe_batch(state(), batch, SETTINGS, step_rng(0, 1))
    assert from_predictions == 0 and len(shots) == SETTINGS.k
    assert len({s.inputs["x"] for s in shots}) == SETTINGS.k


def test_prediction_pool_is_trimmed_and_deduplicated():
    first, _, _ = observe_batch(state(), [prediction(i, 1.0) for i in range(3)], SETTINGS, step_rng(0, 1))
    second, _, _ = observe_batch(first, [prediction(i, 1.0) for i in range(2, 6)], SETTINGS, step_rng(0, 2))
    inputs = [p.inputs["x"] for p in second.predictions]
    assert len(inputs) == SETTINGS.k_best == len(set(inputs))


def test_candidates_are_deduplicated_against_everything_seen():
    s = state()
    new, pairs = candidate_prompts(s, ["Do the task.", "  do THE task. ", "Something new.", None, "Something new."], ())
    assert [p.instructions for p, _ in pairs] == ["Something new."]  # the seed prompt itself was scored already
    assert "something new." in new.seen_instructions


def test_best_scored_prompt_wins_and_unscored_proposals_never_do():
    s = state()
    s, pairs = candidate_prompts(s, ["Better.", "Worse."], ())
    scored = [Candidate(prompt=p, score=score, step=1) for (p, _), score in zip(pairs, [0.75, 0.0])]
    s = record_scores(s, scored, epoch=0, batch=[prediction(0, 1.0)], shots_from_predictions=1,
                      proposals=["Better.", "Worse."], k_best=2)
    assert s.best.prompt.instructions == "Better."
    assert [c.score for c in s.candidates] == [0.75, 0.25]  # trimmed to k_best, best first
    record = s.history[-1]
    assert (record.step, record.batch_reward, record.best_score, record.proposals_kept) == (1, 1.0, 0.75, 2)
    # A tie does not replace the best: the earlier prompt stays.
    s2 = record_scores(s, [Candidate(prompt=Prompt(instructions="Tie."), score=0.75, step=2)], epoch=0, batch=[],
                       shots_from_predictions=0, proposals=[], k_best=2)
    assert s2.best.prompt.instructions == "Better."


def test_state_round_trips_through_json():
    s = state()
    assert type(s).model_validate_json(s.model_dump_json()) == s


def test_shots_are_spread_over_the_answers():
    batch = [Prediction(inputs={"x": f"in {i}"}, expected="yes" if i < 6 else "no", raw="", answer="", reward=1.0)
             for i in range(8)]
    for seed in range(10):
        _, shots, _ = observe_batch(state(), batch, SETTINGS, step_rng(seed, 1))
        assert sorted(s.answer for s in shots) == ["no", "yes"]


def test_seed_scored_in_two_output_modes_keeps_the_first_as_the_reported_seed_score():
    prompt = Prompt(instructions="Do the task.")
    s = initial_state([Candidate(prompt=prompt, score=0.5, step=0, structured=True),
                       Candidate(prompt=prompt, score=0.75, step=0, structured=False)])
    assert s.seed_score == 0.5 and s.best.score == 0.75 and s.best.structured is False


def test_best_instructions_are_retried_with_new_shots_in_every_open_output_mode():
    s = state()
    shot = Shot(inputs={"x": "a"}, answer="b")
    _, pairs = candidate_prompts(s, ["New one."], (shot,), modes=(True, False))
    assert [(p.instructions, mode) for p, mode in pairs] == [
        ("Do the task.", True), ("Do the task.", False), ("New one.", False)  # proposals use the best's mode
    ]


def test_a_model_that_writes_no_usable_instruction_is_not_asked_forever():
    def record(step: int, proposals: int, kept: int) -> StepRecord:
        return StepRecord(step=step, epoch=0, batch_reward=0, parse_failures=0, shots_from_predictions=0,
                          proposals=proposals, proposals_kept=kept, candidates=[], best_score=0)

    useless = [record(1, 2, 0), record(2, 2, 0)]
    assert not proposals_exhausted(useless[:1], patience=2)
    assert proposals_exhausted(useless, patience=2)
    assert proposals_exhausted([*useless, record(3, 0, 0)], patience=2)  # stays stopped (resume-safe)
    assert not proposals_exhausted([record(1, 2, 1), record(2, 2, 0)], patience=2)
    assert not proposals_exhausted(useless, patience=0)
