"""The LM call layer: every model call goes through `LM` (concurrency, retries, cache, budgets, usage).

Modules: `calls` (the LM client), `accounting` (completion, usage, budget, retry policy), `routing` (where a
call goes: one endpoint, or a deployment picked by litellm's Router), `concurrency` (adaptive windows and rpm
limits per endpoint), `cache` (the SQLite response cache), `provider_errors` (what a litellm error means for a
run), `local_provider` (the embedded model as a litellm custom provider, on `local_engine`: the model loaded once, each call streamed so a cancelled one stops), `batch` (a provider's batch API through
litellm's files and batches functions) and `batch_run` (one evaluation's calls as a resumable batch).
May import: `opro_cli.errors` and `opro_cli.spec` (a model's config) only.
"""

from .accounting import Budget, Completion, RetryPolicy, Usage
from .calls import LM
from .provider_errors import ProviderUnavailable

__all__ = ["LM", "Budget", "Completion", "ProviderUnavailable", "RetryPolicy", "Usage"]
