"""The racing schedule and the paired acceptance rule, on hand-made rewards (no LM)."""

import math

from opro_cli.racing import EARLY_ALPHA, acceptance_level, leaders, paired, rung_sizes, sign_test, survivors, wilson_interval


def test_rungs_double_up_to_the_whole_pool():
    assert rung_sizes(8, 60) == [8, 16, 32, 60]
    assert rung_sizes(8, 64) == [8, 16, 32, 64]
    assert rung_sizes(8, 8) == [8]
    assert rung_sizes(10, 5) == [5]


def test_sign_test_is_the_exact_binomial_tail():
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 0) == 1 / 32
    assert math.isclose(sign_test(7, 1), 9 / 256)
    assert sign_test(3, 3) > 0.5


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


def test_survivors_keep_the_best_half_not_behind_the_incumbent():
    incumbent = {i: float(i % 2) for i in range(16)}  # 50 %
    rewards = {
        "inc": incumbent,
        "better": {i: 1.0 for i in range(16)},
        "tied": dict(incumbent),
        "worse": {i: 0.0 for i in range(16)},
        "slightly": dict(incumbent) | {0: 1.0},
    }
    examples = {name: list(range(8)) for name in rewards}
    names = ["tied", "worse", "better", "slightly"]
    # Screening: ties go on (a perfect incumbent can only be tied there), the worse never; at most half (2).
    assert survivors(names, rewards, "inc", examples, first_rung=True) == ["better", "slightly"]
    # Later rungs: a challenger must be ahead.
    assert survivors(["tied", "worse"], rewards, "inc", examples, first_rung=False) == []
    assert survivors(["tied"], rewards, "inc", examples, first_rung=True) == ["tied"]


def test_wilson_interval_is_sound_at_the_edges():
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.1 < high < 0.2
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and 0.8 < low < 0.9
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_leaders_are_the_better_half_by_their_own_scores():
    rewards = {"a": {0: 1.0, 1: 0.0}, "b": {0: 1.0, 1: 1.0}, "c": {0: 0.0, 1: 0.0}, "d": {0: 1.0, 1: 0.0}}
    examples = {name: [0, 1] for name in rewards}
    assert leaders(["a", "b", "c", "d"], rewards, examples) == ["b", "a"]  # a and d tie: the earlier goes on
    assert leaders(["c", "b", "a"], rewards, examples) == ["b", "a"]
    assert leaders(["c"], rewards, examples) == ["c"]
    assert leaders(["c", "b", "a", "d"], rewards, examples, at_least=3) == ["b", "a", "d"]


def test_the_seed_prompt_is_replaced_only_at_the_strict_level_an_earlier_winner_at_a_looser_one():
    assert acceptance_level(against_seed=True, whole_pool=True) == 0.05
    assert acceptance_level(against_seed=True, whole_pool=False) == EARLY_ALPHA < 0.05
    assert acceptance_level(against_seed=False, whole_pool=True) > acceptance_level(against_seed=True, whole_pool=True)
    modest = paired({i: float(i < 7) for i in range(40)}, {i: float(i < 3) for i in range(40)})  # 4 up, 0 down
    assert modest.significant(acceptance_level(against_seed=False, whole_pool=True))
    assert not modest.significant(acceptance_level(against_seed=True, whole_pool=True))
