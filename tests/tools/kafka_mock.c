/* A real Kafka-protocol peer for tests: librdkafka's mock cluster (rd_kafka_mock_cluster_new).
 *   kafka_mock [-b brokers] [topic[:partitions]]...
 * Prints the bootstrap address ("127.0.0.1:PORT") on one line, then serves until SIGTERM/SIGINT, or for at
 * most 600 s so a forgotten one cannot linger. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	int brokers = 1, i = 1;
	if (argc > 2 && strcmp(argv[1], "-b") == 0) {
		brokers = atoi(argv[2]);
		i = 3;
	}
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "rd_kafka_new: %s\n", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
		return 1;
	}
	for (; i < argc; i++) {
		char topic[256];
		int parts = 1;
		snprintf(topic, sizeof topic, "%s", argv[i]);
		char *colon = strchr(topic, ':');
		if (colon) {
			*colon = 0;
			parts = atoi(colon + 1);
		}
		rd_kafka_mock_topic_create(mc, topic, parts, 1);
	}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (int t = 0; !stop && t < 6000; t++)
		usleep(100000);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
