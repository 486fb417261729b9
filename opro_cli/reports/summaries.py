"""The tables the commands print when they finish: the dry run's plan, and the closing summaries of `optimize`,
`eval` and `compare`. They only read what the jobs return; the CLI prints them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ..artifact import Artifact, Closest
from ..lm import Usage
from ..lm.batch_run import BatchOutcome, BatchPlan
from ..scoring.evaluation import Comparison, EvalResult
from ..scoring.stats import is_graded, mean_interval
from ..search.racing import ALPHA
from ..spec import judge_rewards
from .formats import interval_text
from .live import pct, usage_rows

if TYPE_CHECKING:
    from ..search.trainer import Trainer


def plan_json(trainer: Trainer) -> str:
    """`opro optimize --dry-run --json`: the plan and its estimated cost as one JSON object."""
    plan, cost = trainer.plan, trainer.estimate()
    return json.dumps({**plan.as_dict(), **cost.as_dict(), "rungs": list(plan.rungs)})


def plan_table(trainer: Trainer) -> Table:
    """`opro optimize --dry-run`: what the run will do and about what it will cost; nothing is called."""
    plan, cost = trainer.plan, trainer.estimate()
    table = Table(title=f"opro optimize --dry-run: {trainer.spec.name}", show_header=False, title_justify="left")
    table.add_row("validation pool", f"{plan.pool} examples" + (" (the --val file)" if plan.held_out else
                  " (every labelled example; a prompt is never scored on its own shots)"))
    table.add_row("budget", f"{plan.budget_text()} (optimizer.budget: {trainer.spec.optimizer.budget})")
    table.add_row("each step", f"screens {plan.candidates_per_step} candidates on {plan.minibatch} examples; "
                  f"{plan.race()}")
    table.add_row("steps", f"about {plan.steps}, then the leaders' verification" if plan.budget >= plan.first_step else
                  f"none: a step needs a budget of {plan.in_calls(plan.first_step)}; the seed prompt is scored on all "
                  f"{plan.pool} examples ({plan.in_calls(plan.pool)} calls) and kept")
    judging = f", {cost.judge_calls} judging" if cost.judge_calls else ""
    table.add_row("LM calls", f"{cost.calls} ({cost.evaluation_calls} scoring{judging}, up to {cost.proposal_calls} "
                  "proposing)")
    if cost.judge_calls:
        models = ", ".join(sorted({(r.model or trainer.spec.proposer).name for r in judge_rewards(trainer.spec.reward)}))
        table.add_row("judge calls", f"{cost.judge_calls} on {models}: one per answer scored and judged reward "
                                     "(in the calls, tokens and cost here; an answer is never judged twice)")
    table.add_row("prompt tokens", f"about {cost.prompt_tokens:,}")
    table.add_row("completion tokens", f"at most {cost.completion_tokens:,}")
    price = "unknown (no price in litellm's map)" if cost.cost is None else f"about ${cost.cost:.4f}"
    table.add_row("cost", "$0 (local model)" if trainer.spec.model.name.startswith("local/") and not cost.cost else price)
    return table


def optimize_summary(artifact: Artifact, seconds: float, output: Path) -> tuple[Table, list[str]]:
    """`opro optimize`'s closing table, and the notes that go to stderr after it."""
    table = Table(title=f"opro optimize: {artifact.task}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    scores = artifact.scores
    table.add_row("seed prompt (validation)", pct(scores.seed_validation) + examples_text(scores.seed_examples))
    best = pct(scores.best_validation) + examples_text(scores.best_examples)
    if scores.best_ci95 is not None:
        best += f", 95% interval {pct(scores.best_ci95[0])} to {pct(scores.best_ci95[1])}"
    table.add_row("best prompt (validation)", best)
    if scores.best_vs_seed is not None:
        versus = scores.best_vs_seed
        table.add_row("best vs seed (paired)", f"+{versus.best_only} / -{versus.seed_only} examples, p = {versus.p_value:.2g}"
                      if versus.best_only or versus.seed_only else "no difference (the seed prompt was kept)")
    table.add_row("steps", f"{len(artifact.history)} ({artifact.run.stopped})")
    if scores.screened is not None:
        table.add_row("candidates", f"{scores.screened} screened, {scores.promoted} raced further")
    usage_rows(table, Usage(**{k: type(getattr(Usage(), k))(v) for k, v in artifact.run.usage.items()}), seconds)
    if artifact.run.judge_usage is not None:
        judge_row(table, Usage(**{k: type(getattr(Usage(), k))(v) for k, v in artifact.run.judge_usage.items()}))
    table.add_row("artifact", str(output))
    notes = [f"note: {artifact.run.message}"] if artifact.run.message else []
    if scores.closest is not None:
        notes.append(seed_kept_note(scores.closest))
    asked = [step for step in artifact.history if step.proposals]
    if asked and not any(step.proposals_kept for step in asked) and len(asked) < len(artifact.history):
        notes.append(
            f"note: {artifact.models['optimizer_model']} wrote no usable instruction in {len(asked)} steps, so it was "
            "not asked again (optimizer.proposal_patience); the gain came from the shots. "
            "A stronger optimizer_model can improve the instructions too."
        )
    return table, notes


def seed_kept_note(closest: Closest) -> str:
    """Why the seed prompt is returned, and what would help: more budget when the nearest candidate never reached
    the whole pool, more data (or a stronger model) when it did and its lead was not sure enough."""
    lead = (f"{closest.better} examples better than the seed prompt and {closest.worse} worse, "
            f"p = {closest.p_value:.2g} where {ALPHA:g} is needed")
    if not closest.whole_pool:
        return (f"note: the seed prompt is returned: no candidate beat it on the whole pool. The closest scored "
                f"{pct(closest.score)} on {closest.examples} examples ({lead}) and the budget ran out before it was "
                "scored on the whole pool: a larger optimizer.budget (or --budget) may find the gain.")
    return (f"note: the seed prompt is returned: no candidate beat it on the whole pool. The closest scored "
            f"{pct(closest.score)} on all {closest.examples} examples ({lead}): more labelled examples would make "
            "the test surer, or the model cannot do much better with these instructions and shots.")


def examples_text(count: int | None) -> str:
    return f" on {count} examples" if count else ""


def eval_table(
    path: Path, result: EvalResult, seconds: float, baseline: Comparison | None = None, batch: BatchOutcome | None = None
) -> Table:
    """`opro eval`'s closing table: the score, and the gain over the seed prompt when it was scored too."""
    table = Table(title=f"opro eval: {path}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    low, high = mean_interval(result.rewards)
    ci = f"95% CI {pct(low)} to {pct(high)}"
    full = sum(1 for reward in result.rewards if reward >= 1.0)
    if is_graded(result.rewards):
        table.add_row("score", f"{pct(result.score)} mean reward  ({ci})")
        table.add_row("full reward", f"{full} of {result.examples} answers")
    else:
        table.add_row("score", f"{pct(result.score)}  ({full}/{result.examples}, {ci})")
    table.add_row("model", result.model)
    table.add_row("unparseable answers", str(result.parse_failures))
    if result.judge_usage is not None:
        table.add_row("unreadable verdicts", f"{result.unreadable_verdicts} (scored 0)")
    if baseline is not None:
        table.add_row("seed prompt", pct(baseline.a.score))
        verdict = {"b is better": "significant", "b is worse": "significantly worse"}.get(baseline.verdict, "not significant")
        table.add_row("gain over seed prompt", f"{interval_text(baseline.difference)}, {verdict}")
    if batch is not None:
        batch_rows(table, batch, result.usage, result.examples * (2 if baseline is not None else 1) + judged(result))
    usage_rows(table, result.usage, seconds)
    if result.judge_usage is not None:
        judge_row(table, result.judge_usage)
    return table


def judged(result: EvalResult) -> int:
    """The judge's answers, however they came (one LM's count: shared by a baseline or a comparison)."""
    judge = result.judge_usage
    return judge.calls + judge.cached_calls + judge.batch_answers if judge is not None else 0


def judge_row(table: Table, judge: Usage) -> None:
    """The judge's share of the calls above (a judged reward makes one call per answer, cached like any)."""
    table.add_row("of which judge", f"{judge.calls} sent, {judge.cached_calls} from cache; {judge.prompt_tokens} "
                                    f"prompt + {judge.completion_tokens} completion tokens; ${judge.cost:.4f}")


def compare_table(
    a: Path, b: Path, data: Path, comparison: Comparison, seconds: float, batch: BatchOutcome | None = None
) -> Table:
    """`opro compare`'s table: both scores, the paired interval of B - A, and where they agree."""
    counts = comparison.agreement
    table = Table(title=Text(f"opro compare on {data} ({comparison.a.examples} examples)"), show_header=False,
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row(Text(f"A {a}"), Text(f"{pct(comparison.a.score)}  ({comparison.a.model})"))
    table.add_row(Text(f"B {b}"), Text(f"{pct(comparison.b.score)}  ({comparison.b.model})"))
    table.add_row("B - A", interval_text(comparison.difference))
    table.add_row("verdict", comparison.verdict.replace("b is", "B is"))
    if is_graded(comparison.a.rewards) or is_graded(comparison.b.rewards):  # partial rewards: who scored higher
        higher = [(b_reward > a_reward) - (b_reward < a_reward)
                  for a_reward, b_reward in zip(comparison.a.rewards, comparison.b.rewards)]
        table.add_row("B higher", str(higher.count(1)))
        table.add_row("A higher", str(higher.count(-1)))
        table.add_row("same reward", str(higher.count(0)))
    table.add_row("both right", str(counts.both_right))
    table.add_row("only A right", str(counts.only_a))
    table.add_row("only B right", str(counts.only_b))
    table.add_row("both wrong", str(counts.both_wrong))
    if batch is not None:
        batch_rows(table, batch, comparison.a.usage, comparison.a.examples + comparison.b.examples + judged(comparison.a))
    usage_rows(table, comparison.a.usage, seconds)
    return table


def batch_rows(table: Table, batch: BatchOutcome, usage: Usage, answers: int) -> None:
    """Where the answers came from, and what the batch did."""
    live = answers - usage.batch_answers - usage.cached_calls
    table.add_row("answers", f"{usage.batch_answers} from the batch, {usage.cached_calls} from the cache, {live} live")
    ids = batch.submitted + [i for i in batch.resumed if i not in batch.submitted]
    if not ids:
        table.add_row("batch", "nothing to send: every answer was in the cache")
        return
    files = f"{batch.files} file{'s' if batch.files != 1 else ''}"
    sent = f"{usage.batch_requests} requests in {files} ({batch.bytes / 1e6:.1f} MB)" if batch.files else "resumed"
    text = f"{', '.join(ids)}: {sent}; {batch.answered} answered"
    if batch.failed:
        text += f", {batch.failed} failed or expired (called live)"
    if batch.malformed:
        text += f", {batch.malformed} unreadable result lines"
    table.add_row("batch", Text(text))
    if batch.answered and usage.cost:
        table.add_row("batch price", "litellm's batch price" if batch.batch_price else "the live price (litellm has no batch price for this model)")


def batch_plan_table(plan: BatchPlan) -> Table:
    """`eval --dry-run` / `compare --dry-run`: the calls as one batch beside the same calls live (and with a judge,
    the verdicts' batch that follows); nothing sent."""
    table = Table(title=f"dry run: {plan.model}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    _plan_rows(table, plan, "answers needed")
    if plan.judge is not None:
        table.add_section()
        table.add_row("then the judge", plan.judge.model)
        _plan_rows(table, plan.judge, "verdicts needed")
    return table


def _plan_rows(table: Table, plan: BatchPlan, needed: str) -> None:
    table.add_row(needed, f"{plan.examples} ({plan.cached} in the cache, {plan.requests} distinct calls to make)")
    table.add_row("tokens", f"about {plan.prompt_tokens:,} prompt, {plan.completion_tokens:,} completion")
    price = lambda cost: "unknown (no price in litellm's map)" if cost is None else f"about ${cost:.4f}"  # noqa: E731
    table.add_row("live", f"{plan.requests} calls, {price(plan.live_cost)}")
    if plan.unavailable:
        table.add_row("--batch", Text(f"not available: {plan.unavailable}"))
    else:
        note = "" if plan.batch_price or plan.batch_cost is None else " (no batch price in litellm's map: priced as live)"
        table.add_row("--batch", f"{plan.requests} requests in {plan.files} file{'s' if plan.files != 1 else ''} ({plan.bytes / 1e6:.1f} MB), "
                      f"{price(plan.batch_cost)}{note}")
