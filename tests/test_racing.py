"""The racing schedule and the paired acceptance rule, on hand-made rewards (no LM)."""

import math

from opro_cli.search.racing import EARLY_ALPHA, acceptance_level, beats_seed, paired, prefix, promotion, prompt_order, rank_score, screening_examples, settled, rung_of, rung_sizes, sign_test, standing, wilson_interval


def test_rungs_grow_by_eta_up_to_the_whole_pool():
    assert rung_sizes(8, 60) == [8, 24, 60]
    assert rung_sizes(8, 60, eta=2) == [8, 16, 32, 60]
    assert rung_sizes(8, 64, eta=2) == [8, 16, 32, 64]
    assert rung_sizes(8, 8) == [8]
    assert rung_sizes(10, 5) == [5]


def test_sign_test_is_the_exact_binomial_tail():
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 0) == 1 / 32
    assert math.isclose(sign_test(7, 1), 9 / 256)
    assert sign_test(3, 3) > 0.5


def test_the_mid_p_value_counts_the_observed_split_by_half():
    assert sign_test(4, 0, mid=True) == 1 / 32  # exact: 1/16
    assert sign_test(3, 0, mid=True) == 1 / 16
    assert math.isclose(sign_test(6, 1, mid=True), (1 + 7 / 2) / 128)
    assert sign_test(0, 0, mid=True) == 1.0


def test_the_guard_against_the_seed_prompt_takes_a_clean_lead_the_exact_test_cannot_see():
    """On a small pool where the seed prompt is never right, 4 wins and no loss is the best a 10 % prompt shows:
    the exact test (p = 1/16) could never accept it; the guard's mid-p test does, and still not 3 wins, nor a
    lead that loses as often as it wins."""
    seed = {i: 0.0 for i in range(36)}
    assert beats_seed(paired({i: float(i < 4) for i in range(36)}, seed))
    assert not paired({i: float(i < 4) for i in range(36)}, seed).significant()
    assert not beats_seed(paired({i: float(i < 3) for i in range(36)}, seed))
    assert not beats_seed(paired({i: float(i < 6) for i in range(36)}, {i: float(6 <= i < 12) for i in range(36)}))


def test_paired_comparison_counts_only_shared_examples():
    challenger = {0: 1.0, 1: 1.0, 2: 0.0, 3: 1.0}
    incumbent = {0: 0.0, 1: 1.0, 2: 1.0, 9: 0.0}
    result = paired(challenger, incumbent)
    assert (result.examples, result.wins, result.losses) == (3, 1, 1)
    assert result.diff == 0.0 and not result.significant()
    only_first = paired(challenger, incumbent, [0, 3])  # 3 is not shared: skipped
    assert (only_first.examples, only_first.wins) == (1, 1)


def test_a_tie_or_a_small_lead_never_replaces_the_incumbent():
    incumbent = {i: float(i % 5 != 0) for i in range(60)}  # 80 %
    lucky = dict(incumbent) | {0: 1.0, 5: 1.0}  # two more right, none worse: 83 %
    assert not paired(lucky, incumbent).significant()
    assert not paired(dict(incumbent), incumbent).significant()


def test_a_clear_winner_is_significant_even_on_a_partial_rung():
    incumbent = {i: 0.0 for i in range(16)}
    winner = {i: float(i < 12) for i in range(16)}
    result = paired(winner, incumbent)
    assert result.significant(EARLY_ALPHA) and result.p_value < 0.001


def test_a_loser_on_the_same_examples_is_never_significant():
    incumbent = {i: 1.0 for i in range(30)}
    loser = {i: float(i % 2) for i in range(30)}
    assert not paired(loser, incumbent).significant(alpha=0.99)


RUNGS = [4, 8, 16]  # a pool of 16 examples, screened on 4, halved (eta 2) at each rung


def test_a_prefix_stops_at_the_first_unscored_example_and_rungs_count_it():
    rewards = {0: 1.0, 1: 0.0, 3: 1.0}
    assert prefix(rewards, [0, 1, 2, 3]) == [1.0, 0.0]
    assert prefix(rewards, [0, 1, 3]) == [1.0, 0.0, 1.0]  # example 2 is one of its shots: not in its order
    assert [rung_of(n, 16, RUNGS) for n in (0, 3, 4, 8, 15, 16)] == [-1, -1, 0, 1, 1, 2]
    assert rung_of(14, 14, RUNGS) == 2  # two shots: the whole pool is 14 examples


def test_the_best_half_of_each_rung_goes_on_the_highest_rung_first():
    order = {name: list(range(16)) for name in ("inc", "a", "b", "c", "d")}
    rewards = {
        "inc": {i: float(i % 2) for i in range(4)},  # 2 of 4
        "a": {0: 1.0, 1: 1.0, 2: 1.0, 3: 0.0},  # 3 of 4
        "b": {i: float(i % 2) for i in range(4)},  # 2 of 4, as the incumbent
        "c": {i: 0.0 for i in range(4)},
        "d": {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0},  # 4 of 4: the best
    }
    assert promotion(rewards, order, RUNGS, "inc", eta=2) == ("d", 1)  # the best first
    rewards["d"] |= {i: 1.0 for i in range(4, 8)}
    assert promotion(rewards, order, RUNGS, "inc", eta=2) == ("d", 2)  # alone on rung 1: the top half is itself
    rewards["d"] |= {i: 1.0 for i in range(8, 16)}
    # Rung 0 has four challengers (the incumbent is not one): the best two, d (done) and a, go on.
    assert promotion(rewards, order, RUNGS, "inc", eta=2) == ("a", 1)
    rewards["a"] |= {4: 0.0, 5: 0.0, 6: 0.0, 7: 0.0}  # 3 of 8
    # b is not in the top two of rung 0, and on rung 1 only the better of d and a could go on: d, which is done.
    assert promotion(rewards, order, RUNGS, "inc", eta=2) is None
    rewards["e"] = {i: 1.0 for i in range(4)}  # a new perfect screening: rung 0 has five, the top three go on
    order["e"] = list(range(16))
    assert promotion(rewards, order, RUNGS, "inc", eta=2) == ("e", 1)


def test_screening_promotes_by_rank_alone_later_rungs_only_a_prompt_ahead_of_the_incumbent():
    order = {name: list(range(16)) for name in ("inc", "low", "tied", "ahead")}
    lucky = {i: float(i < 4) for i in range(4)} | {i: 0.0 for i in range(4, 8)}  # 4 of 4, then 0 of 4
    rewards = {"inc": lucky, "low": {i: float(i == 0) for i in range(4)}}
    # Screening: behind the (lucky) incumbent, but the best of the rest: it goes on.
    assert promotion(rewards, order, RUNGS, "inc", eta=2) == ("low", 1)
    rewards = {
        "inc": {i: float(i % 2) for i in range(8)},
        "tied": {i: float(i % 2) for i in range(8)},
        "ahead": {i: float(i % 2 or i == 0) for i in range(8)},
    }
    assert promotion(rewards, order, RUNGS, "inc", eta=2) == ("ahead", 2)
    rewards["tied"] = rewards.pop("tied")  # now the older of the two: first among equals on rung 1
    del rewards["ahead"]
    assert promotion(rewards, order, RUNGS, "inc", eta=2) is None  # a tie on rung 1 does not go on


def test_a_lone_prompt_ahead_of_the_incumbent_climbs_to_the_whole_pool():
    order = {"seed": list(range(16)), "new": [i for i in range(16) if i not in (5, 9)]}  # two shots: 14 examples
    rewards = {"seed": {i: 0.0 for i in range(4)}, "new": {i: 1.0 for i in order["new"][:8]}}
    assert promotion(rewards, order, RUNGS, "seed", eta=2) == ("new", 2)
    rewards["new"] |= {i: 1.0 for i in order["new"]}
    assert promotion(rewards, order, RUNGS, "seed", eta=2) is None  # complete: nothing more to score


def test_the_standing_ranks_by_rung_then_by_score_there():
    order = {name: list(range(16)) for name in ("x", "y", "z")}
    rewards = {
        "x": {i: 1.0 for i in range(4)},  # perfect, but only screened
        "y": {i: float(i < 6) for i in range(8)},  # 6 of 8 on rung 1
        "z": {i: float(i < 7) for i in range(8)},  # 7 of 8 on rung 1
    }
    assert standing(rewards, order, RUNGS) == ["z", "y", "x"]


def test_an_example_is_settled_once_enough_candidates_answer_it_alike():
    right, wrong = {0: 1.0, 1: 0.0, 2: 1.0}, {0: 1.0, 1: 0.0, 2: 0.0}
    assert settled([right, right, right, right]) == {0, 1, 2}
    assert settled([right, right, right, wrong]) == {0, 1}  # example 2 still tells them apart
    assert settled([right, right, right]) == frozenset()  # too few candidates to tell
    assert settled([right, right, {0: 1.0}, {0: 1.0}]) == {0}  # only example 0 was answered by four


def test_a_step_is_screened_on_the_first_examples_not_settled_then_follows_the_run_order():
    assert screening_examples(10, frozenset(), 3) == [0, 1, 2]
    assert screening_examples(10, frozenset({0, 2, 3}), 3) == [1, 4, 5]
    assert screening_examples(4, frozenset(range(4)), 3) == [0, 1, 2]  # all settled: the run's first examples
    assert prompt_order(6, [1, 4]) == [1, 4, 0, 2, 3, 5]
    assert prompt_order(3, []) == [0, 1, 2]


def test_ranks_leave_settled_examples_out_so_late_candidates_compete_on_what_tells_them_apart():
    # Without settled examples the rank is the mean's, shrunk toward 1/2 by one pseudo-example.
    assert rank_score({0: 1.0, 1: 1.0, 2: 0.0, 3: 1.0}, range(4)) == 3.5 / 5
    assert rank_score({0: 1.0}, [0], settled=frozenset({0})) == 0.5  # nothing informative: no evidence either way
    order = {name: list(range(16)) for name in ("inc", "early", "late")}
    order["late"] = [*range(4, 16), 0, 1, 2, 3]  # made after examples 0-3 settled: screened on 4-7 first
    rewards = {
        "inc": {i: 0.0 for i in range(4)},
        "early": {0: 1.0, 1: 1.0, 2: 1.0, 3: 0.0},  # 3 of 4, all on examples every candidate answers alike
        "late": {4: 1.0, 5: 1.0, 6: 0.0, 7: 1.0},  # 3 of 4 where candidates disagree
    }
    assert promotion(rewards, order, RUNGS, "inc", eta=3) == ("early", 1)  # the older first among equals
    assert promotion(rewards, order, RUNGS, "inc", eta=3, settled=frozenset({0, 1, 2, 3})) == ("late", 1)
    assert standing(rewards, order, RUNGS, settled=frozenset({0, 1, 2, 3}))[0] == "late"


def test_wilson_interval_is_sound_at_the_edges():
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.1 < high < 0.2
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and 0.8 < low < 0.9
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_the_seed_prompt_is_replaced_only_at_the_strict_level_an_earlier_winner_at_a_looser_one():
    assert acceptance_level(against_seed=True, whole_pool=True) == 0.05
    assert acceptance_level(against_seed=True, whole_pool=False) == EARLY_ALPHA < 0.05
    assert acceptance_level(against_seed=False, whole_pool=True) > acceptance_level(against_seed=True, whole_pool=True)
    modest = paired({i: float(i < 7) for i in range(40)}, {i: float(i < 3) for i in range(40)})  # 4 up, 0 down
    assert modest.significant(acceptance_level(against_seed=False, whole_pool=True))
    assert not modest.significant(acceptance_level(against_seed=True, whole_pool=True))
