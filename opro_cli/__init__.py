"""opro-cli: optimise an LM prompt (instructions + few-shot examples) with FewShotOPRO, through litellm."""

__version__ = "0.1.0"
