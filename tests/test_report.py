"""`opro report`: the history table and sparkline in the terminal, an SVG chart and a self-contained HTML page,
generated here and opened again (parsed) to check they are real pictures."""

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from artifact_factory import make_artifact, step
from opro_cli.artifact import SeedComparison, load_artifact, save_artifact
from opro_cli.reports.charts import html_report, svg_chart
from opro_cli.cli import app
from opro_cli.scoring.prediction import Prediction
from opro_cli.reports.history import confidence_lines, history_rows, sparkline
from toy_task import write_toy_task

SVG = "{http://www.w3.org/2000/svg}"
runner = CliRunner()


def opro(*args, code=0, env=None):
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def optimised(tmp_path, toy_provider):
    """A real toy optimisation, so the report reads a history the trainer wrote."""
    task = write_toy_task(tmp_path)
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q")
    return task


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_report_writes_an_svg_and_an_html_page_that_open(optimised, tmp_path):
    html, svg = tmp_path / "out" / "report.html", tmp_path / "curve.svg"
    result = opro("report", optimised.artifact, "--html", html, "--svg", svg)
    assert f"wrote {html}" in result.stderr and f"wrote {svg}" in result.stderr
    artifact = load_artifact(optimised.artifact)
    candidates = sum(len(record.candidates) for record in artifact.history)

    assert svg.stat().st_size > 0
    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG}svg" and root.get("viewBox") == "0 0 720 320"
    assert len(root.findall(f"{SVG}circle")) == candidates + 1  # + the seed prompt
    assert len(root.findall(f"{SVG}polyline")) == 2  # best so far, batch reward

    page = html.read_text(encoding="utf-8")
    assert html.stat().st_size > 0 and page.startswith("<!DOCTYPE html>")
    document = ET.fromstring(page.split("\n", 1)[1])  # well-formed: an XML parser reads it
    assert document.tag == "html" and document.find("body/h1").text == f"opro report: {artifact.task}"
    assert document.find(f"body/{SVG}svg") is not None
    history = document.findall("body/table")[-1]
    assert len(history.findall("tbody/tr")) == len(history_rows(artifact)) == candidates + 1
    parser = Tags()
    parser.feed(page)
    assert {"html", "head", "style", "body", "svg", "table"} <= set(parser.tags)
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_terminal_report_has_the_table_and_the_sparkline(optimised):
    out = opro("report", optimised.artifact).stdout
    artifact = load_artifact(optimised.artifact)
    assert f"opro report: {artifact.task}" in out and "candidate instructions" in out and "best so far" in out
    assert " seed   Classify the sentiment of the review." in out
    assert f"best so far   {sparkline([0.0] + [r.best_score for r in artifact.history])}" in out
    assert "0.0% -> 100.0%" in out and "* = new best" in out and "100.0% *" in out
    asked = sum(r.proposals for r in artifact.history)
    kept = sum(r.proposals_kept for r in artifact.history)
    assert f"new instructions: {kept} of {asked} proposals usable" in out


def test_no_color_report_has_no_escape_sequences(optimised):
    forced = opro("report", optimised.artifact, env={"FORCE_COLOR": "1", "NO_COLOR": None}).stdout
    assert "\x1b[" in forced
    plain = opro("report", optimised.artifact, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "\x1b[" not in plain and "best so far" in plain


def test_history_rows_mark_the_new_best_and_empty_steps(tmp_path):
    task = write_toy_task(tmp_path)
    history = [step(1, [0.25, 0.5, 0.5], 0.5), step(2, [], 0.5), step(3, [0.4, 0.75], 0.75, shots=2)]
    artifact = load_artifact(make_artifact(task.spec, task.artifact, history=history, seed_score=0.25))
    rows = history_rows(artifact)
    assert [(r.step, r.score, r.best_so_far, r.new_best) for r in rows] == [
        (0, 0.25, 0.25, False),
        (1, 0.25, 0.5, False), (1, 0.5, 0.5, True), (1, 0.5, 0.5, False),
        (2, None, 0.5, False),
        (3, 0.4, 0.75, False), (3, 0.75, 0.75, True),
    ]
    assert rows[-1].shots == 2
    out = opro("report", task.artifact).stdout
    assert "(no new candidate)" in out and "▃▅▅▆" in out  # 0.25, 0.5, 0.5, 0.75


def test_text_from_models_cannot_break_the_pictures_or_the_table(tmp_path):
    task = write_toy_task(tmp_path)
    nasty = 'Say <b>"yes"</b> & [bold]mean it[/bold]\x00\x1b'
    artifact = load_artifact(make_artifact(task.spec, task.artifact, history=[step(1, [1.0], 1.0, instructions=nasty)]))
    root = ET.fromstring(svg_chart(artifact))
    assert any("<b>" in (title.text or "") for title in root.iter(f"{SVG}title"))
    ET.fromstring(html_report(artifact).split("\n", 1)[1])
    out = opro("report", task.artifact, "--width", "80", env={"COLUMNS": "160"}).stdout
    assert '[bold]mean it[/bold]' in out and "\x1b" not in out


def test_a_run_stopped_before_its_first_step_still_reports(tmp_path):
    task = write_toy_task(tmp_path)
    artifact = load_artifact(make_artifact(task.spec, task.artifact))
    assert len(ET.fromstring(svg_chart(artifact)).findall(f"{SVG}circle")) == 1
    assert "0 steps" in opro("report", task.artifact).stdout


def test_sparkline_uses_a_fixed_scale_and_squeezes_long_series():
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([1.0] * 10) == "█" * 10
    assert sparkline([0.0] * 100 + [1.0], max_chars=20).endswith("█") and len(sparkline([0.0] * 100, 20)) == 20


def test_report_says_how_sure_the_result_is(tmp_path):
    """The best prompt's interval, its paired lead over the seed prompt, and how far the search raced."""
    task = write_toy_task(tmp_path)
    artifact = load_artifact(make_artifact(task.spec, task.artifact, history=[step(1, [0.5, 0.9], 0.9)]))
    assert confidence_lines(artifact) == []  # an artifact without the figures says nothing rather than guess
    scores = artifact.scores.model_copy(update={
        "best_examples": 40, "best_ci95": (0.76, 0.96), "screened": 9, "promoted": 3, "budget": 120, "spent": 118,
        "best_vs_seed": SeedComparison(examples=38, best_only=20, seed_only=2, p_value=0.00006),
    })
    save_artifact(task.artifact, artifact.model_copy(update={"scores": scores}))
    lines = confidence_lines(load_artifact(task.artifact))
    assert lines == [
        "best prompt: 90.0% on 40 validation examples (95% interval 76.0% to 96.0%)",
        "against the seed prompt on the same 38 examples: 20 right only with the best prompt, 2 only with the seed "
        "(sign test p = 6e-05)",
        "9 candidates screened, 3 raced on more examples; 118 of 120 planned LM calls",
    ]
    assert all(line.split(":")[0] in html_report(load_artifact(task.artifact)) for line in lines)


def test_the_report_shows_what_each_score_is_over_and_the_prompt_the_leaders_race_passed_over(tmp_path, toy_provider):
    """A real run whose two leaders race before the verification (as in test_search): the report gives every
    score's example count, marks the race's loser `r` and the verified winner `*`, and explains both marks."""
    task = write_toy_task(tmp_path, train_size=40, optimizer={"validation_size": "all", "budget": 150, "k": 2})
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q")
    rows = history_rows(load_artifact(task.artifact))
    raced, verified = rows[-2:]
    assert (raced.verdict, raced.examples, raced.new_best) == ("passed over", 24 + 8, False)
    assert (verified.verdict, verified.examples, verified.new_best) == ("verified", 40 - 2, True)
    assert {row.examples for row in rows[1:-2]} <= {8, 24} and not any(row.verdict for row in rows[:-2])

    out = opro("report", task.artifact, env={"COLUMNS": "120"}).stdout
    assert f"{raced.score:.1%} r   32" in out and f"{verified.score:.1%} *   38" in out
    legend = "on = validation examples scored, * = new best, r = passed over by the leaders' race"
    assert legend in " ".join(out.split())  # the console wraps long lines


def test_report_shows_the_best_prompts_worst_examples_with_their_reasons(optimised):
    """Issue 35: the artifact keeps the best prompt's lowest-scored answers, and the report says why each lost."""
    artifact = load_artifact(optimised.artifact)
    assert artifact.scores.best_validation == 1.0 and artifact.failures == []  # the toy run's best is perfect
    assert "worst examples: none" in opro("report", optimised.artifact).stdout
    lost = Prediction(inputs={"review": "Not bad at all."}, expected="positive", raw="negative", answer="negative",
                      reward=0.0, reason="expected 'positive', got 'negative'")
    save_artifact(optimised.artifact, artifact.model_copy(update={"failures": [lost]}))
    out = opro("report", optimised.artifact, env={"COLUMNS": "200"}).stdout
    assert "worst examples of the best prompt (1):" in out
    assert "why: expected 'positive', got 'negative'" in out and "input: Review: Not bad at all." in out


def test_report_of_an_artifact_without_failures_says_how_to_get_them(optimised):
    artifact = load_artifact(optimised.artifact)
    save_artifact(optimised.artifact, artifact.model_copy(update={"failures": None}))
    out = opro("report", optimised.artifact, env={"COLUMNS": "200"}).stdout
    assert "worst examples: not kept in this artifact" in out and "-o rows.jsonl" in out
