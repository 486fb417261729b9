"""The search: FewShotOPRO with racing, within a planned budget of LM calls.

Owns: the optimiser state and its pure updates (`state`, `shots`, `candidates`), the paired decisions and
successive halving (`racing`), the plan and budget (`plan`), the validation pool and shot source (`split`), the
optimizer model's prompt (`meta_prompt`), and the run itself, split by phase: a step (`step`), screening and
promotion (`screening`), the leaders' race and verification (`verification`), what they share (`context`), and
the loop with its checkpoints (`trainer`, `checkpoint`).
May import: `opro_cli.scoring`, `opro_cli.lm`, `opro_cli.data`, `opro_cli.spec`, `opro_cli.progress`,
`opro_cli.errors`, `opro_cli.files`. Not the artifact, the reports or the jobs: they read the search's results.
"""
