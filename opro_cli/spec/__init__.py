"""The task spec: what to optimise, on which model, scored how. Plain configuration, loaded from YAML and
validated by pydantic; every error names the file, the line and the field.

Owns: the spec's models (`task`, `model`, `rewards`, `strict`), the meta-prompt template's rules
(`meta_template`) and the reading of spec files (`loading`).
May import: `opro_cli.errors` only. Nothing of the search, the scoring or the LM layer: they import the spec.
"""

from __future__ import annotations

from .loading import load_spec, parse_spec, read_spec, read_yaml, spec_problems
from .meta_template import PLACEHOLDERS, REQUIRED_PLACEHOLDER, template_problem
from .model import CONNECTION_FIELDS, Deployment, ModelConfig
from .rewards import NORMALIZATIONS, REWARD_TYPES, ExactMatchReward, RegexReward, Reward
from .strict import StrictModel
from .task import AnswerSpec, OptimizerSpec, PromptSpec, TaskSpec

__all__ = [
    "CONNECTION_FIELDS", "NORMALIZATIONS", "PLACEHOLDERS", "REQUIRED_PLACEHOLDER", "REWARD_TYPES", "AnswerSpec",
    "Deployment", "ExactMatchReward", "ModelConfig", "OptimizerSpec", "PromptSpec", "RegexReward", "Reward",
    "StrictModel", "TaskSpec", "load_spec", "parse_spec", "read_spec", "read_yaml", "spec_problems", "template_problem",
]
