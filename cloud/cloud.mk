# ferry-cloud extras: ferryctl (the admin command line), and the cloud benchmarks that link librdkafka.
FERRYCTL := $(BUILD)/ferryctl
all: $(FERRYCTL)
$(FERRYCTL): $(call obj,cloud/ferryctl.c) $(LIBS)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# tests/bench/bench_cloud_*.c drive the broker with librdkafka.
$(BUILD)/bench/bench_cloud_%: LDLIBS += -lrdkafka
