"""Scoring: a prompt run over examples and every answer scored.

Owns: the answer formats and their parsing (`answers`), the prompt and its rendering into messages (`prompt`),
one scored example and a reward's verdict (`prediction`), rewards (`rewards`, the user's function in
`user_reward`, a model's grade in `judge`), a judge's agreement with a person (`agreement`), the runner that calls the LM for each example
(`runner`), a prompt's results on a data file kept on disk (`results`), its score and two prompts compared on
the same examples (`evaluation`), and the statistics of paired scores (`stats`).
May import: `opro_cli.lm`, `opro_cli.data`, `opro_cli.spec`, `opro_cli.errors`, `opro_cli.files`. Not the
search, the reports or the jobs: they build on it.
"""
