# The command surface. `make run` and `make test` each build the virtual environment they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: run test large fuzz faults browser lint format typecheck bench synth deploy destroy clean simulate simulate-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cleardue up

# The million-row ingestion test runs here on 200,000 rows (same checkpoint path); `make large` runs it whole.
# Two pytest-xdist workers, one per core of the CI machine; each test file stays on one (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(STAMP) browser lint typecheck
	LARGE_TEST_ROWS=200000 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

large: $(STAMP)
	$(BIN)/python -m pytest -m large

# The fuzz tests with a large budget (make test runs them with a small one); FUZZ_EXAMPLES=… to change it.
FUZZ_EXAMPLES ?= 5000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -m fuzz -p no:logging --timeout=0 tests/fuzz

# The pay page's browser tests drive Debian's chromium (playwright's own download is not reachable).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@chromium --version

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.all

# Stage configuration goes through CDK context, e.g. make deploy CDK_ARGS="-c stage=prod -c senderEmail=…"
CDK_ARGS ?=
CDK := npx --yes aws-cdk@^2.1148

synth: $(STAMP)
	$(CDK) synth -q --app "$(BIN)/python -m infra.app" $(CDK_ARGS)

deploy: $(STAMP)
	$(CDK) deploy --app "$(BIN)/python -m infra.app" $(CDK_ARGS)

destroy: $(STAMP)
	$(CDK) destroy --app "$(BIN)/python -m infra.app" $(CDK_ARGS)

clean:
	rm -rf $(VENV) cdk.out .local .pytest_cache .ruff_cache .mypy_cache

# The local pipeline under injected AWS and Stripe faults (local/faults.py); FAULT_RATE=… FAULT_SEED=… to change it.
FAULT_RATE ?= 0.2
FAULT_SEED ?= 11
faults: $(STAMP)
	FAULT_RATE=$(FAULT_RATE) FAULT_SEED=$(FAULT_SEED) $(BIN)/python -m pytest -m faults -p no:logging -s --timeout=0 tests/faults

# The simulation's full compare on the default population (docs/simulation.md); SIM_ARGS=… to change it,
# e.g. make simulate SIM_ARGS="--accounts 1000 --days 30".
SIM_ARGS ?= --accounts 5000 --days 90 --seed 1
simulate: $(STAMP)
	$(BIN)/cleardue simulate $(SIM_ARGS) --compare baseline engine engine_no_learning --out .local/simulation

# The simulation's slower tests (make test runs only the small one).
simulate-test: $(STAMP)
	$(BIN)/python -m pytest -m simulation -p no:logging tests/e2e/test_simulate.py tests/unit/simulate
