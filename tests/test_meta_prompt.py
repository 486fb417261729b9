"""The optimizer LM's prompt: built-in and custom templates, placeholders checked, replies read defensively."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.errors import InputError
from opro_cli.search.meta_prompt import DEFAULT_TEMPLATE, failures_text, meta_prompt, parse_proposal
from opro_cli.spec import template_problem
from opro_cli.search.state import Candidate
from opro_cli.scoring.prediction import Prediction
from opro_cli.scoring.prompt import Prompt
from opro_cli.spec import load_spec
from toy_task import spec_dict, write_toy_task


def prediction(i: int, reward: float) -> Prediction:
    return Prediction(inputs={"x": f"input {i}"}, expected=f"out {i}", raw="...", answer="a", reward=reward)


SEED = Candidate(prompt=Prompt(instructions="Do the task."), score=0.25, step=0)


def test_meta_prompt_lists_candidates_ascending_with_integer_scores_and_exemplars():
    candidates = [
        Candidate(prompt=Prompt(instructions="High."), score=0.9, step=1),
        Candidate(prompt=Prompt(instructions="Low."), score=0.1, step=1),
        SEED,
    ]
    text = meta_prompt(candidates, "A task.", "Q: {x}", [prediction(7, 1.0)])[0]["content"]
    assert text.index("Low.") < text.index("Do the task.") < text.index("High.")
    assert "score:\n90" in text and "score:\n25" in text
    assert "input:\nQ: input 7\noutput:\nout 7" in text
    assert "<INS>" in text


def test_proposals_are_parsed_defensively():
    assert parse_proposal("Sure: <INS> Answer  in one word. </INS>", 500) == "Answer in one word."
    assert parse_proposal("<INS>Unclosed but useful instruction", 500) == "Unclosed but useful instruction"
    assert parse_proposal("12345 no tags at all", 500) is None
    assert parse_proposal("<INS></INS>", 500) is None
    assert parse_proposal("<INS>" + "x" * 600 + "</INS>", 500) is None


def test_custom_template_fills_every_placeholder():
    template = "Task: {task_description}\nTried:\n{scored_instructions}\nData:\n{exemplars}\nJSON like {{\"a\": 1}}. <INS>"
    text = meta_prompt([SEED], "Sort.", "Q: {x}", [prediction(1, 1.0)], template)[0]["content"]
    assert text == 'Task: Sort.\nTried:\ntext:\nDo the task.\nscore:\n25\nData:\ninput:\nQ: input 1\noutput:\nout 1\nJSON like {"a": 1}. <INS>'


def test_paragraphs_whose_placeholders_are_empty_are_left_out():
    text = meta_prompt([SEED], "", "Q: {x}", [])[0]["content"]
    assert "The task:" not in text and "\n\n\n" not in text
    assert text.startswith("Your task is") and text.endswith("Write it between <INS> and </INS>.")


def test_template_problems_name_the_placeholder():
    assert template_problem(DEFAULT_TEMPLATE) is None
    assert "unknown placeholder {examples}" in template_problem("{scored_instructions} {examples}")
    assert "must contain {scored_instructions}" in template_problem("Only {exemplars}")
    assert "bad template" in template_problem("{scored_instructions} {")
    assert "unknown placeholder {0}" in template_problem("{scored_instructions} {0}")


# The spec's optimizer.meta_prompt: inline or a file next to the spec, checked at load time, sent as written.

CUSTOM = "MY META PROMPT for {task_description}\n\n{scored_instructions}\n\n{exemplars}\n\nReply in <INS></INS>."


def spec_with_meta_prompt(tmp_path, value):
    """The toy spec with `optimizer.meta_prompt: value`; returns its path and the line of that key."""
    path = tmp_path / "task.yaml"
    text = yaml.safe_dump(spec_dict(optimizer={"meta_prompt": value}), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if row.startswith("  meta_prompt:"))
    return path, line


def load_error(path) -> str:
    with pytest.raises(InputError) as caught:
        load_spec(path)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_inline_meta_prompt_with_an_unknown_placeholder_is_a_spec_error(tmp_path):
    path, line = spec_with_meta_prompt(tmp_path, "{scored_instructions} and {examples}")
    message = load_error(path)
    assert message.startswith(f"{path}:{line}: optimizer.meta_prompt: unknown placeholder {{examples}}")


def test_meta_prompt_file_is_read_relative_to_the_spec_and_checked(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "meta.txt").write_text(CUSTOM, encoding="utf-8")
    path, _ = spec_with_meta_prompt(tmp_path, "prompts/meta.txt")
    assert load_spec(path).optimizer.meta_prompt == CUSTOM
    (tmp_path / "prompts" / "meta.txt").write_text("{scored_instructions} {nope}", encoding="utf-8")
    path, line = spec_with_meta_prompt(tmp_path, "prompts/meta.txt")
    assert load_error(path) == (
        f"{path}:{line}: optimizer.meta_prompt: {tmp_path / 'prompts' / 'meta.txt'}: unknown placeholder {{nope}} "
        "(known: {task_description}, {scored_instructions}, {exemplars}, {scoring}, {failures}; write literal braces as {{ and }})"
    )
    path, line = spec_with_meta_prompt(tmp_path, "missing.txt")
    assert load_error(path).startswith(f"{path}:{line}: optimizer.meta_prompt: {tmp_path / 'missing.txt'}: file not found")


def test_validate_reports_a_bad_meta_prompt(tmp_path):
    path, line = spec_with_meta_prompt(tmp_path, "Only {exemplars}")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:{line}: optimizer.meta_prompt: the template must contain {{scored_instructions}}" in result.output


def test_the_optimizer_model_gets_the_custom_meta_prompt(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)
    (tmp_path / "meta.txt").write_text(CUSTOM, encoding="utf-8")
    path, _ = spec_with_meta_prompt(tmp_path, "meta.txt")
    args = ["optimize", str(path), "--data", str(task.train), "-o", str(task.artifact), "--no-cache", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    sent = [call["messages"][0]["content"] for call in toy_provider.CALLS.recent]
    asked = [text for text in sent if text.startswith("MY META PROMPT for Classify the sentiment of a review.")]
    assert asked and all("text:\nClassify the sentiment of the review.\nscore:\n" in text for text in asked)
    assert not any(text.startswith("Your task is to write an instruction") for text in sent)


def test_dry_run_counts_the_custom_meta_prompt(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)

    def planned_tokens(spec) -> int:
        args = ["optimize", str(spec), "--data", str(task.train), "-o", str(task.artifact), "--dry-run", "--json"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["prompt_tokens"]

    (tmp_path / "meta.txt").write_text(CUSTOM + "\n\n" + "Think hard about it. " * 200, encoding="utf-8")
    custom, _ = spec_with_meta_prompt(tmp_path, "meta.txt")
    assert planned_tokens(custom) > planned_tokens(task.spec)
    assert toy_provider.CALLS.total == 0


# {failures}: the incumbent's losses on its minibatch, with the reward's reasons (issue 35, point 5).

def test_failures_block_shows_input_answer_expected_and_reason_within_the_cap():
    lost = Prediction(inputs={"x": "input 3"}, expected="positive", raw="negative", answer="negative", reward=0.0,
                      reason="expected 'positive', got 'negative'")
    text = meta_prompt([SEED], "A task.", "Q: {x}", [], failures=[lost])[0]["content"]
    assert ("got wrong, each with the model's answer and why it lost:\ninput:\nQ: input 3\nanswer:\nnegative\n"
            "expected:\npositive\nwhy it lost:\nexpected 'positive', got 'negative'") in text
    assert "got wrong" not in meta_prompt([SEED], "A task.", "Q: {x}", [])[0]["content"]  # none: no paragraph
    long = [lost.model_copy(update={"inputs": {"x": "word " * 300}}) for _ in range(20)]
    shown = failures_text(long, "Q: {x}")
    assert 0 < shown.count("why it lost") < 20 and len(shown) <= 4 * 1000 + 2000  # cut at whole examples
    assert "…" in shown  # each field shortened


def test_custom_template_may_use_failures():
    assert template_problem("{scored_instructions}\n\n{failures}") is None
    lost = Prediction(inputs={"x": "in"}, expected="a", raw="b", answer="b", reward=0.0, reason="expected 'a', got 'b'")
    text = meta_prompt([SEED], "", "Q: {x}", [], "{scored_instructions}\n\nLOST:\n{failures}", failures=[lost])
    assert text[0]["content"].endswith("LOST:\ninput:\nQ: in\nanswer:\nb\nexpected:\na\nwhy it lost:\nexpected 'a', got 'b'")


def test_the_incumbents_failures_reach_the_optimizer_model(tmp_path, toy_provider):
    """End to end on the toy provider: the seed prompt loses some reviews on its minibatch, and the optimizer
    model's prompt shows those reviews with the model's answer and the exact-match reason."""
    task = write_toy_task(tmp_path)
    args = ["optimize", str(task.spec), "--data", str(task.train), "-o", str(task.artifact), "--no-cache", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    sent = [call["messages"][0]["content"] for call in toy_provider.CALLS.recent]
    asked = [text for text in sent if text.startswith("Your task is to write an instruction")]
    shown = [text for text in asked if "why it lost:\nexpected '" in text]
    assert shown, "no meta-prompt showed a failure"
    block = shown[0].split("and why it lost:\n", 1)[1]
    assert block.startswith("input:\nReview: ") and "\nanswer:\n" in block and "\nexpected:\n" in block
    assert block.count("why it lost:") <= 4


def test_failures_zero_keeps_the_old_meta_prompt(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)
    path = tmp_path / "task0.yaml"
    path.write_text(yaml.safe_dump(spec_dict(optimizer={"failures": 0}), sort_keys=False), encoding="utf-8")
    args = ["optimize", str(path), "--data", str(task.train), "-o", str(task.artifact), "--no-cache", "-q"]
    assert CliRunner().invoke(app, args).exit_code == 0
    sent = [call["messages"][0]["content"] for call in toy_provider.CALLS.recent]
    asked = [text for text in sent if text.startswith("Your task is to write an instruction")]
    assert asked and not any("why it lost" in text for text in asked)
