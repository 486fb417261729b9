"""The paired bootstrap and the agreement counts (opro_cli/stats.py): plain Python, seeded, reproducible."""

import random

import pytest

from opro_cli.scoring.stats import Agreement, PairedDifference, agreement, paired_bootstrap


def test_same_inputs_and_seed_give_the_same_interval():
    rng = random.Random(3)
    a = [float(rng.random() < 0.6) for _ in range(80)]
    b = [float(rng.random() < 0.7) for _ in range(80)]
    assert paired_bootstrap(a, b, seed=1) == paired_bootstrap(a, b, seed=1)
    other = paired_bootstrap(a, b, seed=2)  # another seed: the same interval give or take a resampling wobble
    assert abs(other.low - paired_bootstrap(a, b, seed=1).low) < 0.05


def test_mean_difference_is_b_minus_a_and_lies_inside_the_interval():
    a = [1, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    b = [1, 1, 1, 1, 0, 1, 1, 1, 0, 1]
    mean, low, high = paired_bootstrap(a, b, seed=0)
    assert mean == pytest.approx(0.5)
    assert 0 < low <= mean <= high <= 1


def test_identical_prompts_give_a_zero_width_interval_at_zero():
    rewards = [1.0, 0.0, 1.0, 1.0]
    assert paired_bootstrap(rewards, rewards) == PairedDifference(0.0, 0.0, 0.0)
    assert not paired_bootstrap(rewards, rewards).worse and not paired_bootstrap(rewards, rewards).better


def test_a_clear_regression_is_worse_and_a_single_flip_is_not_significant():
    good = [1.0] * 40
    assert paired_bootstrap(good, [0.0] * 40).worse
    one_flip = [0.0] + [1.0] * 39
    result = paired_bootstrap(good, one_flip, seed=0)
    assert result.mean_diff == pytest.approx(-1 / 40)
    assert not result.worse and result.low < 0 and result.high == 0


def test_interval_narrows_with_more_examples():
    rng = random.Random(0)
    def width(n):
        a = [float(rng.random() < 0.5) for _ in range(n)]
        b = [float(rng.random() < 0.6) for _ in range(n)]
        _, low, high = paired_bootstrap(a, b, seed=0)
        return high - low
    assert width(400) < width(25)


def test_percentile_interval_covers_a_known_true_difference_most_of_the_time():
    """Coverage sanity check: the 95 % interval holds the true difference in roughly 95 % of samples."""
    rng = random.Random(11)
    hits = 0
    for trial in range(60):
        a = [float(rng.random() < 0.5) for _ in range(60)]
        b = [float(rng.random() < 0.7) for _ in range(60)]
        _, low, high = paired_bootstrap(a, b, seed=trial, resamples=500)
        hits += low <= 0.2 <= high
    assert hits >= 50


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap([1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="no rewards"):
        paired_bootstrap([], [])


def test_agreement_counts_each_example_once():
    a = [1.0, 1.0, 0.0, 0.0, 0.5]
    b = [1.0, 0.0, 1.0, 0.0, 1.0]
    assert agreement(a, b) == Agreement(both_right=1, only_a=1, only_b=2, both_wrong=1)
