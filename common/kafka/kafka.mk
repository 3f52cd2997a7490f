# Kafka: regenerate the message tables from the official schemas (development time only; the output is
# committed, so neither builds nor CI need python or the schemas).  KAFKA_SCHEMAS defaults to the shared
# checkout beside the repository.
KAFKA_SCHEMAS ?= ../shared/kafka-schemas
.PHONY: kafka-gen
kafka-gen:
	python3 common/kafka/gen/kafka_gen.py $(KAFKA_SCHEMAS) common/kafka

# Test tools that link librdkafka (its mock cluster is a real Kafka peer): the mock itself, the interop
# checker and the golden-bytes recorder.  Built with `make` so the integration tests find them.
KAFKA_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/kafka_*.c))
.PHONY: kafka-tools
kafka-tools: $(KAFKA_TOOLS)
all: kafka-tools
$(BUILD)/tools/kafka_%: $(call obj,tests/tools/kafka_%.c) $(LIBS)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ -lrdkafka $(LDLIBS)
