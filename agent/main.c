/* ferry-agent: the edge daemon.  Parses options, loads the config, opens the store, binds the MQTT broker
 * (agent/broker) to it and serves the admin HTTP endpoint.  Process-wide things (signals, the event base)
 * live here and nowhere else. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "agent/auth.h"
#include "agent/broker/agent_broker.h"
#include "agent/config.h"
#include "agent/downlink.h"
#include "agent/fwd.h"
#include "agent/store.h"
#include "agent/uplink.h"
#include "base/err.h"
#include "base/log.h"
#include "base/metrics.h"
#include "net/http_admin.h"
#include "net/listener.h"
#include "net/tls.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ferry-agent [options]\n"
		   "       ferry-agent passwd [-c] FILE USER\n"
		   "  -c, --config FILE      read FILE (default: embedded defaults)\n"
		   "      --check-config     check the configuration and exit (0 good, 1 bad)\n"
		   "      --config-reference print every config key as Markdown and exit\n"
		   "      --config-example   print a commented example config and exit\n"
		   "  -V, --version          print the version and exit\n"
		   "  -h, --help             print this help and exit\n"
		   "  passwd [-c] FILE USER  set USER's password in FILE (-c: new file)\n");
}

struct agent {
	struct agent_config cfg;
	struct event_base *base;
	struct store *store;
	struct auth auth;
	struct metrics metrics;
	struct net_admin *admin;
	struct agent_broker *broker;
	struct fwd *fwd;       /* store and forward: NULL without routes */
	struct uplink *uplink; /* NULL unless [uplink] enabled */
	struct downlink *downlink; /* NULL unless [downlink] topic is set */
	struct net_listener *listeners[3];
	struct net_conn_limit limit;
	_Atomic int64_t *accepted;
	struct event *sig[3];
};

static bool health(void *arg, char *why, size_t why_len)
{
	struct agent *a = arg;
	struct store_stats st;
	store_get_stats(a->store, &st);
	if (st.failed_batches) {
		snprintf(why, why_len, "store: %llu failed write batches", (unsigned long long)st.failed_batches);
		return false;
	}
	return true;
}

static int64_t read_queued(void *arg)
{
	struct store_stats st;
	store_get_stats(((struct agent *)arg)->store, &st);
	return (int64_t)st.queued_items;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	(void)what;
	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading password and ACL files and TLS certificates");
		auth_reload(&a->auth);
		agent_broker_reload_tls(a->broker);
		return;
	}
	log_info("signal %d: shutting down", (int)sig);
	event_base_loopexit(a->base, NULL);
}

static int open_store(struct agent *a, char *err, size_t err_len)
{
	if (mkdir(a->cfg.data_dir, 0750) != 0 && errno != EEXIST)
		return snprintf(err, err_len, "mkdir(%s): %s", a->cfg.data_dir, strerror(errno)), ERR_IO;
	char path[AGENT_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/agent.db", a->cfg.data_dir);
	struct store_config sc = {.path = path,
				  .sync = a->cfg.store.sync == AGENT_SYNC_FULL ? STORE_SYNC_FULL : STORE_SYNC_NORMAL,
				  .queue_ops_max = a->cfg.store.queue_items_max,
				  .batch_ops_max = a->cfg.store.batch_items_max};
	int rc = store_open(&a->store, &sc);
	if (rc)
		return snprintf(err, err_len, "store %s: %s", path, err_str(rc)), rc;
	rc = agent_broker_new(&a->broker, a->base, &a->cfg, a->store, &a->auth, &a->metrics, err, err_len);
	if (rc)
		return rc;
	if (a->cfg.route_count) {
		if ((rc = fwd_new(&a->fwd, &a->cfg, a->broker, &a->metrics, err, err_len)) != 0)
			return rc;
		agent_broker_set_publish_hook(a->broker, fwd_on_publish, a->fwd);
	}
	rc = agent_broker_load(a->broker); /* persistent sessions, queues, retained: before the writer starts */
	if (!rc)
		rc = store_start(a->store, a->base);
	if (rc)
		return snprintf(err, err_len, "store %s: %s", path, err_str(rc)), rc;
	metric_set(metrics_gauge(&a->metrics, "ferry_agent_store_recovered", "",
				 "1 when the database was found corrupt at startup and moved aside"),
		   store_recovered(a->store));
	return 0;
}

static int start(struct agent *a, char *err, size_t err_len)
{
	int rc;
	a->limit.max = a->cfg.limits.max_connections;
	if ((rc = auth_init(&a->auth, a->cfg.security.allow_anonymous, a->cfg.security.password_file,
			    a->cfg.security.acl_file, err, err_len)) != 0)
		return rc;
	if ((rc = metrics_init(&a->metrics, 256)) != 0 || !(a->base = event_base_new()))
		return snprintf(err, err_len, "out of memory"), ERR_NOMEM;
	metric_set(metrics_gauge(&a->metrics, "ferry_agent_up", "", "1 while the agent runs"), 1);
	if ((rc = open_store(a, err, err_len)) != 0)
		return rc;
	metrics_gauge_fn(&a->metrics, "ferry_agent_store_queued_items", "", "Writes waiting for the disk", read_queued, a);
	if (a->cfg.admin.enabled &&
	    (rc = net_admin_new(&a->admin, a->base, a->cfg.admin.address, (uint16_t)a->cfg.admin.port, &a->metrics,
				health, a, err, err_len)) != 0)
		return rc;
	if (a->admin)
		log_info("[admin] http://%s:%u/metrics and /healthz", a->cfg.admin.address, net_admin_port(a->admin));
	if ((rc = agent_broker_start(a->broker, err, err_len)) != 0)
		return rc;
	if (a->cfg.uplink.enabled) {
		if (!a->fwd)
			log_warn("[uplink] is enabled but no [route NAME] selects anything to ship");
		else if ((rc = uplink_new(&a->uplink, a->base, &a->cfg, a->store, a->fwd, &a->metrics, err, err_len)) != 0)
			return rc;
		else
			log_info("[uplink] shipping %u route(s) to %s as agent '%s'", a->cfg.route_count,
				 a->cfg.uplink.bootstrap, a->cfg.uplink.agent_id);
	}
	if (a->cfg.downlink.topic[0]) {
		if ((rc = downlink_new(&a->downlink, a->base, &a->cfg, a->broker, &a->metrics, err, err_len)) != 0)
			return rc;
		log_info("[downlink] commands from %s on %s for agent '%s'", a->cfg.downlink.topic,
			 a->cfg.uplink.bootstrap, a->cfg.uplink.agent_id);
	}
	const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	for (int i = 0; i < 3; i++) {
		a->sig[i] = evsignal_new(a->base, sigs[i], on_signal, a);
		if (!a->sig[i] || event_add(a->sig[i], NULL))
			return snprintf(err, err_len, "signal handler"), ERR_IO;
	}
	return 0;
}

static void stop(struct agent *a)
{
	for (int i = 0; i < 3; i++) {
		if (a->sig[i])
			event_free(a->sig[i]);
	}
	net_admin_free(a->admin);
	store_close(a->store); /* commits what is queued and runs its completions (into the broker, the uplink) */
	uplink_free(a->uplink);
	downlink_free(a->downlink);
	fwd_free(a->fwd);
	agent_broker_free(a->broker);
	auth_deinit(&a->auth);
	if (a->base)
		event_base_free(a->base);
	if (a->metrics.items)
		metrics_deinit(&a->metrics);
}

/* --check-config: besides the syntax, load what the agent would load (certificates, password and ACL files). */
static int check_files(const struct agent_config *c, const char *config)
{
	char err[512] = "";
	struct auth auth;
	int rc = auth_init(&auth, c->security.allow_anonymous, c->security.password_file, c->security.acl_file, err,
			   sizeof err);
	if (!rc)
		auth_deinit(&auth);
	const struct agent_listener *ls[2] = {&c->mqtt_tls, &c->websocket};
	for (int i = 0; i < 2 && !rc; i++) {
		if (!ls[i]->enabled || !ls[i]->cert_file[0])
			continue;
		struct net_tls *tls;
		struct net_tls_config tc = {.cert_file = ls[i]->cert_file, .key_file = ls[i]->key_file,
					    .ca_file = ls[i]->ca_file,
					    .verify = ls[i]->require_certificate ? NET_TLS_VERIFY_REQUIRED : NET_TLS_VERIFY_NONE};
		if ((rc = net_tls_new(&tls, NET_TLS_SERVER, &tc, err, sizeof err)) == 0)
			net_tls_unref(tls);
	}
	if (rc) {
		fprintf(stderr, "ferry-agent: %s\n", err[0] ? err : err_str(rc));
		return 1;
	}
	printf("%s: ok\n", config ? config : "(embedded defaults)");
	return 0;
}

static int print_rendered(int (*render)(struct dbuf *))
{
	struct dbuf d;
	dbuf_init(&d, 1 << 20);
	int rc = render(&d);
	if (!rc)
		fwrite(d.p, 1, d.len, stdout);
	dbuf_deinit(&d);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "passwd") == 0)
		return auth_passwd_command(argc - 1, argv + 1);
	const char *config = NULL;
	bool check = false;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "-V") || !strcmp(o, "--version")) {
			printf("ferry-agent %s\n", FERRY_VERSION);
			return 0;
		} else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			return 0;
		} else if ((!strcmp(o, "-c") || !strcmp(o, "--config")) && i + 1 < argc) {
			config = argv[++i];
		} else if (!strcmp(o, "--check-config")) {
			check = true;
		} else if (!strcmp(o, "--config-reference")) {
			return print_rendered(agent_config_render_doc);
		} else if (!strcmp(o, "--config-example")) {
			return print_rendered(agent_config_render_example);
		} else {
			fprintf(stderr, "ferry-agent: unknown option '%s'\n", o);
			usage(stderr);
			return 2;
		}
	}
	static struct agent a;
	char err[2048] = "";
	int rc = config ? agent_config_load(&a.cfg, config, err, sizeof err) : (agent_config_defaults(&a.cfg), 0);
	if (rc) {
		fprintf(stderr, "ferry-agent: %s\n", err);
		return 1;
	}
	if (check)
		return check_files(&a.cfg, config);
	log_set_level((enum log_level)a.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	log_info("ferry-agent %s starting (%s)", FERRY_VERSION, config ? config : "embedded defaults");
	rc = start(&a, err, sizeof err);
	if (rc) {
		log_error("%s", err[0] ? err : err_str(rc));
		stop(&a);
		return 1;
	}
	event_base_dispatch(a.base);
	stop(&a);
	log_info("ferry-agent stopped");
	return 0;
}
