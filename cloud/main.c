/* ferry-cloud: one node of the Kafka-compatible cluster.  Loads the config (embedded defaults when none is
 * given), opens the broker and runs its event loop until SIGINT/SIGTERM, then closes the logs cleanly. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "base/err.h"
#include "base/log.h"
#include "cloud/broker.h"
#include "cloud/config.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ferry-cloud [options]\n"
		   "  -c, --config FILE   read FILE (default: embedded defaults)\n"
		   "  -V, --version       print the version and exit\n"
		   "  -h, --help          print this help and exit\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("ferry-cloud: signal %d, shutting down", (int)sig);
	event_base_loopexit(arg, NULL);
}

static struct cloud_config cfg; /* large (users); not on the stack */

int main(int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("ferry-cloud %s\n", FERRY_VERSION);
			return 0;
		}
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			path = argv[++i];
			continue;
		}
		fprintf(stderr, "ferry-cloud: unknown option '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	char err[512];
	if (cloud_config_load(&cfg, path, err, sizeof err)) {
		fprintf(stderr, "ferry-cloud: %s\n", err);
		return 1;
	}
	enum log_level lvl;
	if (log_level_parse(cfg.log_level, &lvl)) {
		fprintf(stderr, "ferry-cloud: log_level: unknown level '%s'\n", cfg.log_level);
		return 1;
	}
	log_set_level(lvl);
	signal(SIGPIPE, SIG_IGN);
	/* Before the base exists: the log flusher thread wakes the loop with event_active (broker.c). */
	if (evthread_use_pthreads())
		return 1;
	struct event_base *base = event_base_new();
	if (!base)
		return 1;
	struct event *sint = evsignal_new(base, SIGINT, on_signal, base);
	struct event *sterm = evsignal_new(base, SIGTERM, on_signal, base);
	event_add(sint, NULL);
	event_add(sterm, NULL);
	static struct broker broker;
	int rc = broker_open(&broker, &cfg, base);
	if (rc) {
		log_error("ferry-cloud: cannot start: %s", err_str(rc));
		broker_close(&broker);
	} else {
		log_info("ferry-cloud %s: node %u, data in %s", FERRY_VERSION, cfg.node_id, cfg.data_dir);
		event_base_dispatch(base);
		broker_close(&broker);
		log_info("ferry-cloud: stopped");
	}
	event_free(sint);
	event_free(sterm);
	event_base_free(base);
	return rc ? 1 : 0;
}
