"""The racing search end to end on the toy provider: it keeps within its budget, re-scores its choice on the
whole pool, and keeps the seed prompt when nothing beats it in a paired test."""

from __future__ import annotations

from typer.testing import CliRunner

from opro_cli.artifact import load_artifact
from opro_cli.cli import app
from opro_cli.data import Example
from opro_cli.search.state import initial_state
from opro_cli.search.split import race_order
from toy_task import write_toy_task


def optimize(task, *extra: str) -> None:
    args = ["optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q", *extra]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def test_the_search_spends_its_budget_and_rescores_its_choice_on_the_whole_pool(tmp_path, toy_provider):
    task = write_toy_task(tmp_path, train_size=40, optimizer={"validation_size": "all", "budget": 150, "k": 2})
    optimize(task)
    artifact = load_artifact(task.artifact)
    scores = artifact.scores
    # leftover: less than a step (screening, 3 proposals and one promotion from 8 to 24 examples)
    assert scores.budget == 150 and 150 - 8 - 3 - 16 < scores.spent <= 150
    assert artifact.run.usage["calls"] == scores.spent  # a cold cache: every evaluation is one call
    assert scores.best_examples == 40 - len(artifact.shots)  # the whole pool but its own shots
    assert scores.best_validation == 1.0 and scores.seed_validation == 0.0  # two shots: the toy model is perfect
    low, high = scores.best_ci95
    assert 0.9 < low < 1.0 == high
    assert scores.best_vs_seed.best_only > 0 and scores.best_vs_seed.seed_only == 0
    assert scores.best_vs_seed.p_value < 0.01
    assert scores.screened >= scores.promoted >= 1
    assert sum(record.screened for record in artifact.history) == scores.screened
    accepted = [c for record in artifact.history for c in record.candidates if c.accepted]
    assert len(accepted) == 1 and accepted[0].prompt == artifact.prompt


def test_a_step_the_budget_cuts_short_still_promotes_its_best_candidate(tmp_path, toy_provider):
    """With a budget for one step, screening as many candidates as the calls allow would leave none to score
    further: the step screens one fewer, and its best candidates go on to the next rung (24 examples)."""
    task = write_toy_task(tmp_path, train_size=40, optimizer={"validation_size": "all", "budget": 100, "k": 2})
    optimize(task)
    artifact = load_artifact(task.artifact)
    (step,) = [record for record in artifact.history if record.screened]
    assert step.promoted >= 1 and any(c.promoted and c.examples >= 24 for c in step.candidates)
    assert artifact.scores.spent <= 100


def test_a_seed_prompt_nothing_beats_is_kept(tmp_path, toy_provider):
    """Asked for JSON the toy model is always right: every candidate ties with the seed, none may replace it."""
    answer = {"type": "label", "choices": ["positive", "negative"], "structured": "always"}
    task = write_toy_task(tmp_path, train_size=30, answer=answer, optimizer={"validation_size": "all", "budget": 120})
    optimize(task)
    artifact = load_artifact(task.artifact)
    assert artifact.instructions == "Classify the sentiment of the review." and artifact.shots == []
    assert artifact.scores.best_validation == artifact.scores.seed_validation == 1.0
    assert artifact.scores.best_examples == 30
    assert artifact.scores.screened > 0 and not any(c.accepted for r in artifact.history for c in r.candidates)


def test_the_race_order_spreads_every_answer_evenly_so_each_prefix_has_the_pool_mix():
    examples = [Example(line=i + 1, inputs={"x": str(i)}, expected="rare" if i % 5 == 0 else "common") for i in range(40)]
    ordered = race_order(list(examples), seed=3)
    assert sorted(e.inputs["x"] for e in ordered) == sorted(e.inputs["x"] for e in examples)  # a permutation
    for size in (5, 10, 20, 40):  # 1 in 5 is rare: so is 1 in 5 of every prefix of 5, 10, ...
        assert sum(e.expected == "rare" for e in ordered[:size]) == size // 5
    assert race_order(list(examples), seed=3) == ordered  # seeded
    assert race_order(list(examples), seed=4) != ordered
    free_text = [Example(line=i + 1, inputs={"x": str(i)}, expected=f"answer {i}") for i in range(20)]
    assert len({e.expected for e in race_order(list(free_text), seed=3)[:10]}) == 10  # all distinct: just shuffled


def test_the_leader_is_verified_on_the_whole_pool_at_the_end_and_recorded_as_its_own_step(tmp_path, toy_provider):
    task = write_toy_task(tmp_path, train_size=40, optimizer={"validation_size": "all", "budget": 150, "k": 2})
    optimize(task)
    artifact = load_artifact(task.artifact)
    verification = [record for record in artifact.history if record.screened == 0 and record.candidates]
    assert verification, "no verification step"
    (winner,) = [c for c in verification[0].candidates if c.accepted]
    assert winner.examples == 40 - 2 and winner.promoted and winner.prompt == artifact.prompt
    # Every prompt screened in a step was screened on the same examples: the first of the order that still
    # tell prompts apart.
    screened = [c for record in artifact.history if record.screened for c in record.candidates]
    assert screened and all(c.examples >= 8 for c in screened)


def test_each_step_screens_its_candidates_together_on_examples_that_were_not_settled(tmp_path, toy_provider):
    """With one shot (k=1) the toy model is right on every review but the hard ones, whatever the shot, so the
    first step's candidates settle the examples they were screened on and the next step screens on others, all
    its candidates alike. Proposed instructions (no shots: the toy model answers in a sentence,
    never right) have no say in what is settled."""
    from opro_cli.jobs import CallOptions, OptimizeJob
    from opro_cli.scoring.prediction import inputs_key
    from opro_cli.search.racing import settled

    task = write_toy_task(tmp_path, train_size=40, optimizer={"validation_size": "all", "budget": 150, "k": 1,
                                                                     "shot_sets": 5})
    job = OptimizeJob(task.spec, task.train, task.artifact, options=CallOptions(cache=False))
    trainer = job.prepare()
    state = job.run(trainer).state  # the jobs' own event loop, as `opro optimize` runs it
    pool = trainer.split.validation
    by_step: dict[int, list] = {}
    for entry in state.entries.values():
        if entry.origin in ("shots", "instructions"):
            by_step.setdefault(entry.step, []).append(entry)
    assert len(by_step) >= 2
    for step, entries in by_step.items():
        (screening,) = {tuple(e.screening) for e in entries}  # a step's candidates share their screening examples
        assert len(screening) == 8
        for entry in entries:
            shots = {inputs_key(s.inputs) for s in entry.prompt.shots}
            assert all(i in entry.rewards for i in screening if inputs_key(pool[i].inputs) not in shots)
            if entry.origin == "shots":  # fresh shots never come from the examples they are screened on
                assert not shots & {inputs_key(pool[i].inputs) for i in screening}
    first, second = by_step[1][0].screening, by_step[2][0].screening
    assert first == list(range(8))  # nothing settled yet: the first examples of the run's order
    done = settled(e.rewards for e in by_step[1] if any(e.rewards.values()))  # what step 1 settled
    assert set(first) <= done and not set(second) & set(first)


def test_the_two_leaders_race_on_new_examples_when_the_budget_leaves_a_minibatch_beside_the_verification(
        tmp_path, toy_provider):
    """The leader was picked on the examples it shares with the runner-up; before the leader's verification both
    are scored on a minibatch neither was scored on, and the one behind there is passed over (on a tie, as with
    the toy model's perfect two-shot prompts, the runner-up). Its scores after the race stay in the record."""
    task = write_toy_task(tmp_path, train_size=40, optimizer={"validation_size": "all", "budget": 150, "k": 2})
    optimize(task)
    artifact = load_artifact(task.artifact)
    (verification,) = [record for record in artifact.history if record.screened == 0 and record.candidates]
    raced, winner = verification.candidates
    assert raced.examples == 24 + 8 and not raced.accepted and not raced.promoted  # passed over, not verified
    assert winner.accepted and winner.examples == 40 - 2 and winner.prompt == artifact.prompt
    first_step = artifact.history[0].candidates  # both reached 24 examples in step 1, the winner first
    assert [c.prompt for c in first_step if c.examples == 24] == [winner.prompt, raced.prompt]
    assert verification.promoted == 1 and artifact.scores.spent <= 150


def test_a_runner_up_ahead_on_the_new_examples_passes_the_leader_over(tmp_path, toy_provider):
    """The leader looks best on the 24 examples it was picked on. On the next 8, which neither was scored on, the
    runner-up (two shots: the toy model gets every review right) is ahead of the leader (one shot: it gets the
    hard reviews wrong), so the leader is passed over."""
    import toy_model
    from opro_cli import event_loop
    from opro_cli.jobs import CallOptions, OptimizeJob
    from opro_cli.search.state import Entry
    from opro_cli.search.verification import race_leaders
    from opro_cli.scoring.prompt import Prompt, Shot

    task = write_toy_task(tmp_path, train_size=60, optimizer={"validation_size": "all", "budget": 400, "seed": 4})
    job = OptimizeJob(task.spec, task.train, task.artifact, options=CallOptions(cache=False))
    trainer = job.prepare()
    pool = trainer.split.validation
    assert trainer.plan.rungs == (8, 24, 60)
    assert any(toy_model.is_hard(e.inputs["review"]) for e in pool[24:32])  # the leader gets one of them wrong
    instructions = trainer.spec.prompt.instructions
    shots = tuple(Shot(inputs=e.inputs, answer=e.expected) for e in pool[-2:])
    first = range(24)
    leader = Entry(prompt=Prompt(instructions=instructions, shots=shots[:1]), step=1, origin="shots",
                   rewards={i: 1.0 for i in first})
    runner_up = Entry(prompt=Prompt(instructions=instructions, shots=shots), step=1, origin="shots",
                      rewards={i: float(i > 0) for i in first})
    state = initial_state(Prompt(instructions=instructions), structured=False)
    seed = state.seed.model_copy(update={"rewards": {i: 0.0 for i in first}})
    state = state.model_copy(update={"entries": {seed.id: seed, leader.id: leader, runner_up.id: runner_up}})

    state, passed_over = event_loop.run(race_leaders(trainer.context, state, epoch=0))
    assert passed_over == leader.id
    for entry in (leader, runner_up):  # both scored on the same 8 new examples, and on nothing else
        assert sorted(state.entries[entry.id].rewards) == list(range(32))
    assert state.entries[runner_up.id].score > state.entries[leader.id].score


def test_a_step_the_budget_cuts_short_leaves_no_unscreened_prompt_in_the_state(tmp_path, toy_provider):
    """With 100 calls the last step draws more candidates than it can screen. Those it could not are dropped, so
    a later step that draws one again screens it (an entry already in the state is never a new candidate)."""
    from opro_cli import event_loop
    from opro_cli.jobs import CallOptions, OptimizeJob

    task = write_toy_task(tmp_path, train_size=40, optimizer={"validation_size": "all", "budget": 100, "k": 2})
    trainer = OptimizeJob(task.spec, task.train, task.artifact, options=CallOptions(cache=False)).prepare()
    event_loop.run(trainer.run())
    state = trainer.state
    assert all(entry.rewards for entry in state.entries.values())
    listed = {c.key() for record in state.history for c in record.candidates}
    assert {(*entry.prompt.key(), entry.structured) for name, entry in state.entries.items()
            if name != state.seed_id} == listed  # every prompt in the state is one the history shows
