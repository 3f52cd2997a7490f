# Kafka: regenerate the message tables from the official schemas (development time only; the output is
# committed, so neither builds nor CI need python or the schemas).  KAFKA_SCHEMAS defaults to the shared
# checkout beside the repository.
KAFKA_SCHEMAS ?= ../shared/kafka-schemas
.PHONY: kafka-gen
kafka-gen:
	python3 common/kafka/gen/kafka_gen.py $(KAFKA_SCHEMAS) common/kafka
