"""What the user reads: the live display while a job runs (`live`), the closing tables of the commands
(`summaries`), an artifact's history in the terminal (`history`) and as HTML or SVG (`charts`), and the
machine-readable results of `eval` and `compare`: JSON, JUnit, JSONL (`formats`).

May import: `opro_cli.artifact`, `opro_cli.search` (its records), `opro_cli.scoring` (results and comparisons),
`opro_cli.lm` (usage), `opro_cli.progress` and the helpers. Never the jobs or the CLI: reports only show what
they are given, and make no LM call.
"""
