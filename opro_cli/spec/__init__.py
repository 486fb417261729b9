"""The task spec: what to optimise, on which model, scored how. Plain configuration, loaded from YAML and
validated by pydantic; every error names the file, the line and the field.

Owns: the spec's models (`task`, `model`, `rewards`, `strict`), the meta-prompt template's rules
(`meta_template`), the reading of spec files (`loading`) and the loading of a `python` reward's function from
the user's file (`user_code`).
May import: `opro_cli.errors` only. Nothing of the search, the scoring or the LM layer: they import the spec.
"""

from __future__ import annotations

from .loading import load_spec, parse_spec, read_spec, read_yaml, spec_problems
from .meta_template import PLACEHOLDERS, REQUIRED_PLACEHOLDER, template_problem
from .model import CONNECTION_FIELDS, Deployment, ModelConfig
from .rewards import (
    GRADED_TYPES,
    NORMALIZATIONS,
    REWARD_TYPES,
    ContainsReward,
    ExactMatchReward,
    F1Reward,
    FieldReward,
    FieldsReward,
    JudgeReward,
    NumericReward,
    PythonReward,
    RegexReward,
    Reward,
    judge_prompt_problem,
    judge_rewards,
    python_functions,
)
from .strict import StrictModel
from .task import AnswerSpec, OptimizerSpec, OutputType, PromptSpec, TaskSpec
from .user_code import load_function

__all__ = [
    "CONNECTION_FIELDS", "GRADED_TYPES", "NORMALIZATIONS", "PLACEHOLDERS", "REQUIRED_PLACEHOLDER", "REWARD_TYPES",
    "AnswerSpec", "ContainsReward", "Deployment", "ExactMatchReward", "F1Reward", "FieldReward", "FieldsReward", "JudgeReward",
    "ModelConfig", "NumericReward", "OptimizerSpec", "OutputType", "PromptSpec", "PythonReward", "RegexReward",
    "Reward", "StrictModel", "TaskSpec", "judge_prompt_problem", "judge_rewards", "load_function", "load_spec", "parse_spec", "python_functions",
    "read_spec", "read_yaml", "spec_problems", "template_problem",
]
