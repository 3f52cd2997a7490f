# The deterministic Raft simulator (tests/sim).
#   make sim                 SEEDS (default 200) random seeds plus the regression seeds in tests/sim/regress.txt
#   make sim SEEDS=2000      what CI runs
#   make sim SEED=12345      one seed, verbose: the reproduce command a failure prints
#   make sim-scenarios       the scenario files (also run by `make test` through tests/unit/raft)
SIM_SRC := tests/sim/sim.c tests/sim/sim_check.c tests/sim/sim_run.c tests/sim/scenario.c tests/sim/sim_main.c
SIM_BIN := $(BUILD)/sim/ferry-sim
SEEDS ?= 200
SIM_START ?= 1

$(SIM_BIN): $(call obj,$(SIM_SRC)) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: sim sim-scenarios
sim: $(SIM_BIN)
	@$(SIM_BIN) $(if $(SEED),--seed $(SEED) -v,--seeds $(SEEDS) --start $(SIM_START) --regress tests/sim/regress.txt)

sim-scenarios: $(SIM_BIN)
	@$(SIM_BIN) --scenario tests/sim/scenarios/*.txt
