"""The optimizer LM's prompt: built-in and custom templates, placeholders checked, replies read defensively."""

from opro_cli.meta_prompt import DEFAULT_TEMPLATE, meta_prompt, parse_proposal, template_problem
from opro_cli.optimizer import Candidate, Prediction, initial_state
from opro_cli.prompt import Prompt


def prediction(i: int, reward: float) -> Prediction:
    return Prediction(inputs={"x": f"input {i}"}, expected=f"out {i}", raw="...", answer="a", reward=reward)


def state():
    return initial_state([Candidate(prompt=Prompt(instructions="Do the task."), score=0.25, step=0)])


def test_meta_prompt_lists_candidates_ascending_with_integer_scores_and_exemplars():
    s = state()
    s = s.model_copy(update={"candidates": [
        Candidate(prompt=Prompt(instructions="High."), score=0.9, step=1),
        Candidate(prompt=Prompt(instructions="Low."), score=0.1, step=1),
        *s.candidates,
    ]})
    text = meta_prompt(s.candidates, "A task.", "Q: {x}", [prediction(7, 1.0)])[0]["content"]
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
    text = meta_prompt(state().candidates, "Sort.", "Q: {x}", [prediction(1, 1.0)], template)[0]["content"]
    assert text == 'Task: Sort.\nTried:\ntext:\nDo the task.\nscore:\n25\nData:\ninput:\nQ: input 1\noutput:\nout 1\nJSON like {"a": 1}. <INS>'


def test_paragraphs_whose_placeholders_are_empty_are_left_out():
    text = meta_prompt(state().candidates, "", "Q: {x}", [])[0]["content"]
    assert "The task:" not in text and "\n\n\n" not in text
    assert text.startswith("Your task is") and text.endswith("Write it between <INS> and </INS>.")


def test_template_problems_name_the_placeholder():
    assert template_problem(DEFAULT_TEMPLATE) is None
    assert "unknown placeholder {examples}" in template_problem("{scored_instructions} {examples}")
    assert "must contain {scored_instructions}" in template_problem("Only {exemplars}")
    assert "bad template" in template_problem("{scored_instructions} {")
    assert "unknown placeholder {0}" in template_problem("{scored_instructions} {0}")
