"""Pictures of an optimisation for people: an SVG score chart and a self-contained HTML report.

Written as plain text by us (no plotting dependency, no script, no external file): the SVG is valid XML and the
HTML page is well-formed, so both open anywhere and can be checked by an XML parser.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr

from ..artifact import Artifact
from ..files import write_atomic
from .history import confidence_lines, curve, history_rows, proposals_line
from .live import pct

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 60, 44
BEST_COLOR, CANDIDATE_COLOR, BATCH_COLOR = "#2563eb", "#6b7280", "#ea580c"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text made safe for XML: markup escaped, and characters XML 1.0 cannot carry replaced (models write anything)."""
    return _escape(_NOT_XML.sub("\ufffd", text))


def svg_chart(artifact: Artifact) -> str:
    """Validation score by step: every candidate (dots), the best so far (steps), the training batch reward."""
    data = curve(artifact)
    last = max(data.steps[-1], 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(step: float) -> float:
        return round(LEFT + plot_w * step / last, 1)

    def y(score: float) -> float:
        return round(TOP + plot_h * (1 - max(0.0, min(1.0, score))), 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label={quoteattr(f"Validation score by step for {artifact.task}")} '
        'font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{escape(artifact.task)}: validation score by step</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{escape(artifact.task)}: validation score by step</text>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{LEFT}" y1="{y(tick)}" x2="{WIDTH - RIGHT}" y2="{y(tick)}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4}" text-anchor="end">{tick:.0%}</text>')
    every = max(1, -(-last // 10))
    for step in range(0, last + 1, every):
        parts.append(f'<text x="{x(step)}" y="{TOP + plot_h + 18}" text-anchor="middle">{step}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">step (0 = seed prompt)</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#9ca3af"/>')

    if data.batch_rewards:
        points = " ".join(f"{x(step)},{y(reward)}" for step, reward in data.batch_rewards)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{BATCH_COLOR}" stroke-width="1.5" '
                     'stroke-dasharray="5 4"/>')
    for step, score, instructions in data.candidates:
        label = f"step {step}: {pct(score)}: {instructions}"
        parts.append(f'<circle cx="{x(step)}" cy="{y(score)}" r="3.5" fill="{CANDIDATE_COLOR}" fill-opacity="0.55">'
                     f"<title>{escape(label)}</title></circle>")
    staircase = [f"{x(data.steps[0])},{y(data.best[0])}"]
    for (step, score), previous in zip(zip(data.steps[1:], data.best[1:]), data.best):
        staircase += [f"{x(step)},{y(previous)}", f"{x(step)},{y(score)}"]
    parts.append(f'<polyline points="{" ".join(staircase)}" fill="none" stroke="{BEST_COLOR}" stroke-width="2.5"/>')
    parts += _legend(LEFT, 42)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _legend(left: int, top: int) -> list[str]:
    """One row under the title, out of the plot area so it never hides a point."""
    entries = [
        (f'<line x1="0" y1="0" x2="18" y2="0" stroke="{BEST_COLOR}" stroke-width="2.5"/>', "best so far", 100),
        (f'<circle cx="9" cy="0" r="3.5" fill="{CANDIDATE_COLOR}" fill-opacity="0.55"/>', "candidate (validation)", 170),
        (f'<line x1="0" y1="0" x2="18" y2="0" stroke="{BATCH_COLOR}" stroke-width="1.5" stroke-dasharray="5 4"/>',
         "training batch reward", 0),
    ]
    parts = []
    for mark, text, advance in entries:
        parts.append(f'<g transform="translate({left},{top})">{mark}<text x="24" y="4">{escape(text)}</text></g>')
        left += advance
    return parts


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #111827; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.best td { font-weight: 600; background: #eff6ff; }
pre { background: #f3f4f6; padding: 0.75rem; white-space: pre-wrap; }
svg { max-width: 100%; height: auto; }
"""


def html_report(artifact: Artifact) -> str:
    """One self-contained page: run summary, the chart, the best prompt, the full history table."""
    task = escape(artifact.task)
    usage = artifact.run.usage
    summary = [
        ("model", artifact.models.get("model", "")),
        ("optimizer model", artifact.models.get("optimizer_model", "")),
        ("validation score", f"{pct(artifact.scores.seed_validation)} (seed prompt) -> "
                             f"{pct(artifact.scores.best_validation)} (best prompt)"),
        *(("confidence", line) for line in confidence_lines(artifact)),
        ("steps", f"{len(artifact.history)} ({artifact.run.stopped})"),
        ("proposals", proposals_line(artifact).removeprefix("new instructions: ")),
        ("LM calls", f"{int(usage.get('calls', 0))} sent, {int(usage.get('cached_calls', 0))} from cache"),
        ("tokens", f"{int(usage.get('prompt_tokens', 0))} prompt, {int(usage.get('completion_tokens', 0))} completion"),
        ("cost", f"${usage.get('cost', 0.0):.4f}"),
        ("seed", str(artifact.seed)),
        ("run id", artifact.run_id),
        ("finished", artifact.run.finished_at),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"/>',
        f"<title>opro report: {task}</title>",
        f"<style>{_STYLE}</style></head>",
        "<body>",
        f"<h1>opro report: {task}</h1>",
        "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in summary) + "</dl>",
        svg_chart(artifact),
        "<h2>Best prompt</h2>",
        f"<pre>{escape(artifact.instructions)}</pre>",
    ]
    if artifact.shots:
        parts.append('<table><thead><tr><th>shot input</th><th>answer</th></tr></thead><tbody>')
        for shot in artifact.shots:
            inputs = "; ".join(f"{k}: {v}" for k, v in shot.inputs.items())
            parts.append(f"<tr><td>{escape(inputs)}</td><td>{escape(shot.answer)}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("<h2>History</h2>")
    parts.append('<table><thead><tr><th class="num">step</th><th>candidate instructions</th><th class="num">shots</th>'
                 '<th class="num">score</th><th class="num">on</th><th>verification</th><th class="num">best so far</th></tr>'
                 '</thead><tbody>')
    for row in history_rows(artifact):
        text = row.instructions or "(no new candidate)"
        if row.step == 0:
            text = f"(seed prompt) {text}"
        css = ' class="best"' if row.new_best else ""
        parts.append(f'<tr{css}><td class="num">{row.step}</td><td>{escape(text)}</td><td class="num">{row.shots}</td>'
                     f'<td class="num">{pct(row.score)}</td><td class="num">{row.examples or ""}</td>'
                     f'<td>{row.verdict}</td><td class="num">{pct(row.best_so_far)}</td></tr>')
    parts += ["</tbody></table>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def save_svg(path: Path, artifact: Artifact) -> None:
    write_atomic(path, svg_chart(artifact))


def save_html(path: Path, artifact: Artifact) -> None:
    write_atomic(path, html_report(artifact))
