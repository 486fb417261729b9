"""The FewShotOPRO search state without any LM: seeded shot sets, per-example rewards, new candidates only."""

from collections import Counter

from opro_cli.scoring.prediction import Prediction
from opro_cli.search.state import StepRecord, accept, final_choice, entry_id, initial_state, observe, record_step, step_rng, with_rewards
from opro_cli.search.candidates import add_entries, drop_unscreened, live_modes, proposals_exhausted
from opro_cli.search.shots import draw_shot_sets, live_shot_counts, longer_shots, shots_per_prompt
from opro_cli.scoring.prompt import Prompt, Shot

SEED = Prompt(instructions="Do the task.")


def prediction(i: int, reward: float, expected: str | None = None) -> Prediction:
    return Prediction(inputs={"x": f"input {i}"}, expected=expected or f"out {i}", raw="...", answer="a", reward=reward)


def labelled(i: int, expected: str | None = None) -> Prediction:
    return Prediction(inputs={"x": f"input {i}"}, expected=expected or f"out {i}", raw="", answer=None, reward=0.0)


def test_shots_come_from_correct_predictions_first_with_their_expected_answers():
    s = observe(initial_state(SEED, False), [prediction(i, float(i % 2)) for i in range(8)], k_best=4)
    assert len(s.predictions) == 4 and all(p.reward == 1.0 for p in s.predictions)
    spares = [labelled(i) for i in range(20)]
    sets, from_predictions = draw_shot_sets(s, spares, count=3, k=2, rng=step_rng(0, 1))
    assert len(sets) == 3 and from_predictions == 6
    correct = {p.inputs["x"] for p in s.predictions}
    for shots in sets:
        assert all(shot.inputs["x"] in correct for shot in shots)
        assert all(shot.answer == f"out {shot.inputs['x'].split()[-1]}" for shot in shots)


def test_shots_never_come_from_outside_the_allowed_examples():
    """The screening minibatch is left out of `spares`, so no candidate is screened on its own shots."""
    s = observe(initial_state(SEED, False), [prediction(i, 1.0) for i in range(8)], k_best=8)
    allowed = [labelled(i) for i in range(4, 12)]
    sets, _ = draw_shot_sets(s, allowed, count=5, k=3, rng=step_rng(1, 1))
    assert {shot.inputs["x"] for shots in sets for shot in shots} <= {p.inputs["x"] for p in allowed}


def test_labelled_examples_fill_in_when_nothing_is_correct():
    s = observe(initial_state(SEED, False), [prediction(i, 0.0) for i in range(5)], k_best=4)
    sets, from_predictions = draw_shot_sets(s, [labelled(i) for i in range(5)], count=2, k=3, rng=step_rng(0, 1))
    assert from_predictions == 0 and all(len(shots) == 3 == len({x.inputs["x"] for x in shots}) for shots in sets)


def test_shot_draws_are_seeded_and_spread_over_the_answers():
    spares = [labelled(i, "yes" if i < 6 else "no") for i in range(8)]
    state = initial_state(SEED, False)

    def draw(seed: int) -> tuple[tuple[str, ...], ...]:
        sets, _ = draw_shot_sets(state, spares, count=2, k=2, rng=step_rng(seed, 1))
        return tuple(tuple(s.inputs["x"] for s in shots) for shots in sets)

    assert draw(3) == draw(3)
    assert len({draw(seed) for seed in range(6)}) > 1
    for seed in range(10):
        sets, _ = draw_shot_sets(state, spares, count=2, k=2, rng=step_rng(seed, 1))
        assert all(sorted(s.answer for s in shots) == ["no", "yes"] for shots in sets)


def test_candidates_cover_shot_sets_in_every_mode_the_seed_in_the_other_mode_and_new_proposals():
    s = initial_state(SEED, True)
    shots = (Shot(inputs={"x": "a"}, answer="b"),)
    s, ids = add_entries(s, [shots], ["Do the task.", "  do THE task. ", "New one.", None, "New one."], (True, False))
    described = [(s.entries[i].origin, s.entries[i].prompt.instructions, len(s.entries[i].prompt.shots),
                  s.entries[i].structured) for i in ids]
    assert described == [
        ("mode", "Do the task.", 0, False),
        ("shots", "Do the task.", 1, True),
        ("shots", "Do the task.", 1, False),
        ("instructions", "New one.", 0, True),  # a proposal keeps the incumbent's shots and mode
    ]
    # The same candidates again are not new: nothing is scored twice, and the search counts a stalled step.
    s2, again = add_entries(s, [shots], ["New one."], (True, False))
    assert again == [] and s2.stalled == 1


def test_a_candidate_the_step_could_not_screen_is_new_again_when_a_later_step_draws_it():
    s = initial_state(SEED, False)
    shots = (Shot(inputs={"x": "a"}, answer="b"),)
    s, ids = add_entries(s, [shots], ["New one."], (False,))
    s = with_rewards(s, ids[0], {0: 1.0})  # the shot set was screened, the proposal was not (budget)
    s = drop_unscreened(s, ids[1:])
    assert set(s.entries) == {s.seed_id, ids[0]} and "new one." not in s.seen_instructions
    s, again = add_entries(s, [shots], ["New one."], (False,))
    assert again == ids[1:]  # the proposal is a candidate again; the screened shot set is not


def test_rewards_are_per_example_and_each_new_one_is_one_call_spent():
    s = initial_state(SEED, False)
    s = with_rewards(s, s.seed_id, {0: 1.0, 1: 0.0})
    s = with_rewards(s, s.seed_id, {1: 1.0, 2: 1.0})  # example 1 was scored already: kept, not paid again
    assert s.seed.rewards == {0: 1.0, 1: 0.0, 2: 1.0} and s.spent == 3
    assert abs(s.seed.score - 2 / 3) < 1e-9
    low, high = s.seed.interval()
    assert 0 < low < 2 / 3 < high < 1


def test_accepted_winner_becomes_the_incumbent_and_the_history_says_what_happened():
    s = initial_state(SEED, False)
    s, ids = add_entries(s, [(Shot(inputs={"x": "a"}, answer="b"),)], [], (False,))
    s = with_rewards(s, ids[0], {i: 1.0 for i in range(16)})
    s = accept(s, ids[0])
    s = record_step(s, epoch=0, batch_rewards=[0.0], parse_failures=0, candidates=ids, promoted=ids, accepted=ids[0],
                    shots_from_predictions=0, proposals=[None])
    assert s.best_id == ids[0] and s.chain == [s.seed_id, ids[0]] and s.step == 1
    record = s.history[-1]
    assert (record.screened, record.promoted, record.best_score, record.proposals, record.proposals_kept) == (1, 1, 1.0, 1, 0)
    assert record.candidates[0].accepted and record.candidates[0].examples == 16


def test_state_round_trips_through_json():
    s = initial_state(SEED, False)
    s = with_rewards(s, s.seed_id, {3: 1.0, 7: 0.0})
    assert type(s).model_validate_json(s.model_dump_json()) == s


def test_entry_identity_is_prompt_and_mode():
    assert entry_id(SEED, True) != entry_id(SEED, False)
    assert entry_id(SEED, True) == entry_id(Prompt(instructions="Do the task."), True)


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


def test_every_answer_gets_a_shot_even_when_the_correct_predictions_all_share_one():
    """A small model right only on "world" must still see the other labels: labelled examples fill them in."""
    right = [prediction(i, 1.0, "world") for i in range(6)]
    s = observe(initial_state(SEED, False), right, k_best=10)
    spares = [labelled(i, "world") for i in range(6)] + [labelled(10 + i, label) for i, label in
                                                         enumerate(["sports", "science", "business"] * 2)]
    for seed in range(5):
        sets, from_predictions = draw_shot_sets(s, spares, count=2, k=4, rng=step_rng(seed, 1))
        assert all(sorted(x.answer for x in shots) == ["business", "science", "sports", "world"] for shots in sets)
        assert from_predictions == 2  # the "world" shot is a correct prediction each time


def test_once_the_incumbent_has_shots_every_other_set_is_a_local_step_swap_or_reorder():
    base = (Shot(inputs={"x": "input 0"}, answer="yes"), Shot(inputs={"x": "input 1"}, answer="no"))
    s = initial_state(SEED, False)
    s, ids = add_entries(s, [base], [], (False,))
    s = accept(s, ids[0])
    spares = [labelled(i, "yes" if i % 2 == 0 else "no") for i in range(2, 12)]
    sets, _ = draw_shot_sets(s, spares, count=4, k=2, rng=step_rng(0, 2))
    swapped, reordered = sets[1], sets[3]
    kept = [shot for shot in swapped if shot.inputs["x"] in ("input 0", "input 1")]
    assert len(kept) == 1 and sorted(x.answer for x in swapped) == ["no", "yes"]  # one swapped, same answer
    assert reordered == base[::-1]  # the same shots, in the other order
    for fresh in (sets[0], sets[2]):  # fresh draws, from the spares only
        assert sorted(x.answer for x in fresh) == ["no", "yes"]
        assert all(x.inputs["x"] not in ("input 0", "input 1") for x in fresh)
    fresh_only, _ = draw_shot_sets(s, spares, count=4, k=2, rng=step_rng(0, 2), local=False)  # no swaps at all
    assert all(x.inputs["x"] not in ("input 0", "input 1") for shots in fresh_only for x in shots)


def test_the_final_choice_is_the_latest_winner_that_beats_the_seed_prompt():
    s = initial_state(SEED, False)
    s = with_rewards(s, s.seed_id, {i: float(i < 10) for i in range(20)})  # 50 %
    s, ids = add_entries(s, [(Shot(inputs={"x": "a"}, answer="b"),), (Shot(inputs={"x": "c"}, answer="d"),)], [], (False,))
    strong, lucky = ids
    s = with_rewards(s, strong, {i: float(i < 18) for i in range(20)})  # 90 %: beats the seed
    s = with_rewards(s, lucky, {i: float(i < 13) for i in range(20)})  # 65 %: not clearly better than the seed
    s = accept(accept(s, strong), lucky)  # it won against `strong` at the looser level, by chance
    assert final_choice(s).best_id == strong
    assert final_choice(accept(initial_state(SEED, False), s.seed_id)).best_id == s.seed_id
    only_lucky = accept(s.model_copy(update={"chain": [s.seed_id]}), lucky)
    assert final_choice(only_lucky).best_id == s.seed_id  # nothing beats the seed: the seed is the result


def test_a_mode_that_loses_on_pairs_of_the_same_prompt_stops_getting_candidates():
    state = initial_state(SEED, True)
    shots = [(Shot(inputs={"x": f"input {i}"}, answer=f"out {i}"),) for i in range(3)]
    state, ids = add_entries(state, shots, [], (True, False))
    assert live_modes(state, (True, False)) == (True, False)  # nothing scored yet
    for name in ids:  # the schema mode right on 5 of 8, the prompt-stated mode on 2 of 8, the same ones
        entry = state.entries[name]
        right = 5 if entry.structured else 2
        state = with_rewards(state, name, {i: float(i < right) for i in range(8)})
    # 3 prompts x 3 examples where only the schema mode is right (and none the other way): p = 1/512.
    assert live_modes(state, (True, False)) == (True,)
    assert live_modes(state, (True,)) == (True,)
    close = initial_state(SEED, True)
    close, ids = add_entries(close, shots[:1], [], (True, False))
    for name in ids:
        close = with_rewards(close, name, {i: float(i < (5 if close.entries[name].structured else 4)) for i in range(8)})
    assert live_modes(close, (True, False)) == (True, False)  # one example apart: not enough to drop a mode


def test_auto_shots_show_every_answer_of_a_small_label_set():
    assert shots_per_prompt("auto", ["joy", "anger", "sadness", "fear"] * 5) == 4  # one per answer
    assert shots_per_prompt("auto", ["yes", "no"] * 10) == 3  # at least 3
    assert shots_per_prompt("auto", [f"free text {i}" for i in range(20)]) == 3  # not a label set
    assert shots_per_prompt("auto", [f"label {i % 12}" for i in range(60)]) == 3  # too many answers to show all
    assert shots_per_prompt(5, ["yes", "no"]) == 5  # a number is kept as given


def test_auto_also_tries_two_shots_per_answer_of_a_small_label_set():
    assert longer_shots("auto", ["joy", "anger", "sadness", "fear"] * 5) == 8
    assert longer_shots("auto", ["billing", "delivery", "login"] * 5) == 6
    assert longer_shots("auto", ["yes", "no"] * 10) is None  # 3 shots already
    assert longer_shots("auto", [f"label {i % 6}" for i in range(60)]) == 8  # at most MAX_AUTO_SHOTS
    assert longer_shots("auto", [f"label {i % 8}" for i in range(60)]) is None  # 8 shots already
    assert longer_shots("auto", [f"free text {i}" for i in range(20)]) is None  # not a label set
    assert longer_shots(4, ["joy", "anger", "sadness", "fear"] * 5) is None  # a number is the only count tried


def test_fresh_draws_pair_two_shots_per_answer_with_one_per_answer_of_the_same_draw():
    answers = ["rare", "mid", "mid", "common", "common", "common"]
    spares = [labelled(i, answers[i % 6]) for i in range(36)]
    frequency = Counter(p.expected for p in spares)
    for seed in range(5):
        sets, _ = draw_shot_sets(initial_state(SEED, False), spares, count=4, k=3, rng=step_rng(seed, 1),
                                 frequency=frequency, longer=6)
        assert [len(shots) for shots in sets] == [3, 6, 3, 6]
        for short, long in (sets[:2], sets[2:]):
            assert [x.answer for x in long] == ["rare", "rare", "mid", "mid", "common", "common"]
            assert [x.answer for x in short] == ["rare", "mid", "common"]  # one per answer, in the same order
            assert [x for x in long if x in short] == list(short)  # the longer set with its extra shots


def test_the_shot_count_that_loses_the_paired_test_over_its_pairs_is_dropped():
    long = tuple(Shot(inputs={"x": f"shot {i}"}, answer=("yes", "no")[i % 2]) for i in range(4))
    short = (long[0], long[1], long[2])  # what draw_shot_sets pairs with it: one per answer first, then turns

    def state(long_right: int, short_right: int):
        s, ids = add_entries(initial_state(SEED, False), [short, long], [], (False,))
        by_size = {len(s.entries[i].prompt.shots): i for i in ids}
        s = with_rewards(s, by_size[4], {i: float(i < long_right) for i in range(20)})
        return with_rewards(s, by_size[3], {i: float(i < short_right) for i in range(20)})

    assert live_shot_counts(state(12, 4), 3, 4) == (4,)  # 8 examples won, none lost: two per answer it is
    assert live_shot_counts(state(4, 12), 3, 4) == (3,)
    assert live_shot_counts(state(6, 5), 3, 4) == (3, 4)  # one example apart: both still tried
    assert live_shot_counts(state(12, 4), 3, None) == (3,)  # nothing else to try


def test_fresh_draws_put_the_commonest_answer_last():
    spares = [labelled(i, "rare") for i in range(3)] + [labelled(10 + i, "common") for i in range(9)]
    frequency = Counter(p.expected for p in spares)
    for seed in range(5):
        sets, _ = draw_shot_sets(initial_state(SEED, False), spares, count=3, k=2, rng=step_rng(seed, 1),
                                 frequency=frequency)
        assert all([shot.answer for shot in shots] == ["rare", "common"] for shots in sets)


def after_a_step_led_by(shots: tuple[Shot, ...]):
    """A state after one step, whose only candidate (the leader) has these shots."""
    state, ids = add_entries(initial_state(SEED, False), [shots], [], (False,))
    return state.model_copy(update={"step": 1}), ids[0]


def three_answers() -> tuple[list[Prediction], Counter[str]]:
    """Labelled examples of a rare, a middle and a common answer, and how often each is expected."""
    spares = ([labelled(i, "rare") for i in range(8)] + [labelled(10 + i, "middle") for i in range(8)]
              + [labelled(20 + i, "common") for i in range(9)])
    return spares, Counter(p.expected for p in spares)


def test_without_a_leader_that_stands_out_every_other_draw_ends_on_another_answer():
    # A leader ending on "middle" that does not stand out: the commonest-last draws are unlike it and stay, every
    # other draw ends on an answer that is neither the commonest nor the leader's last.
    spares, frequency = three_answers()
    state, leader = after_a_step_led_by((Shot(inputs=spares[0].inputs, answer="rare"),
                                         Shot(inputs=spares[10].inputs, answer="middle")))
    for seed in range(10):
        first, _ = draw_shot_sets(initial_state(SEED, False), spares, count=4, k=3, rng=step_rng(seed, 1),
                                  local=False, frequency=frequency)
        assert [shots[-1].answer for shots in first] == ["common"] * 4  # nothing screened yet: the prior holds
        sets, _ = draw_shot_sets(state, spares, count=4, k=3, rng=step_rng(seed, 2), leader=leader, local=False,
                                 frequency=frequency)
        assert [shots[-1].answer for shots in sets] == ["common", "rare"] * 2


def test_a_leader_ending_on_the_commonest_answer_makes_every_draw_end_on_another():
    # A model that says whatever the last shots say gives "common" to everything on every commonest-last draw,
    # as the leader does: all the draws end on the other answers.
    spares, frequency = three_answers()
    state, leader = after_a_step_led_by((Shot(inputs=spares[0].inputs, answer="rare"),
                                         Shot(inputs=spares[20].inputs, answer="common")))
    last_answers = set()
    for seed in range(10):
        sets, _ = draw_shot_sets(state, spares, count=4, k=3, rng=step_rng(seed, 2), leader=leader, local=False,
                                 frequency=frequency)
        assert "common" not in {shots[-1].answer for shots in sets}
        last_answers |= {shots[-1].answer for shots in sets}
    assert last_answers == {"rare", "middle"}


def test_a_leader_ending_on_one_of_two_equally_common_answers_makes_every_draw_end_on_the_other():
    # Two answers equally common, and a leader (say one answering "yes" to everything) whose shots end on "yes":
    # half the commonest-last draws would end on "yes" too.
    spares = [labelled(i, "yes") for i in range(8)] + [labelled(10 + i, "no") for i in range(8)]
    frequency = Counter(p.expected for p in spares)
    state, leader = after_a_step_led_by((Shot(inputs=spares[10].inputs, answer="no"),
                                         Shot(inputs=spares[0].inputs, answer="yes")))
    for seed in range(10):
        sets, _ = draw_shot_sets(state, spares, count=4, k=3, rng=step_rng(seed, 2), leader=leader, local=False,
                                 frequency=frequency)
        assert [shots[-1].answer for shots in sets] == ["no"] * 4
