/* Authentication and authorization for the agent's broker: the engine's questions answered from agent/auth
 * (password file, ACL with %u/%c) and, on a TLS listener that asks for it, the client certificate's identity
 * used as the username. */
#include <stdlib.h>
#include <string.h>

#include "agent/auth.h"
#include "agent/broker/internal.h"
#include "base/log.h"

static const struct agent_listener *listener_cfg(const struct agent_broker *ab, uint8_t kind)
{
	switch (kind) {
	case AGENT_LISTENER_TLS: return &ab->cfg.mqtt_tls;
	case AGENT_LISTENER_WS: return &ab->cfg.websocket;
	default: return &ab->cfg.mqtt;
	}
}

uint8_t ab_authenticate(void *ctx, void *io, struct mqtt_connect_info *info)
{
	struct agent_broker *ab = ctx;
	struct ab_conn *conn = io;
	free(conn->username);
	conn->username = NULL;
	if (listener_cfg(ab, conn->kind)->use_identity_as_username) {
		/* The verified certificate is the credential; its name replaces whatever the client sent. */
		if (!conn->identity)
			return MQTT_RC_NOT_AUTHORIZED;
		conn->username = strdup(conn->identity);
		if (!conn->username)
			return MQTT_RC_SERVER_UNAVAILABLE;
		info->username = (struct mqtt_bytes){(const uint8_t *)conn->username, (uint32_t)strlen(conn->username)};
		return 0;
	}
	if (info->username.ptr) {
		const char *u = ab_cstr(&ab->scratch, info->username);
		if (!u || strlen(u) != info->username.len)
			return MQTT_RC_BAD_USERNAME_OR_PASSWORD; /* embedded NUL or too long */
		conn->username = strdup(u);
		if (!conn->username)
			return MQTT_RC_SERVER_UNAVAILABLE;
	}
	if (!ab->auth)
		return conn->username || ab->cfg.security.allow_anonymous ? 0 : MQTT_RC_NOT_AUTHORIZED;
	int rc = auth_connect(ab->auth, conn->username, info->password.ptr, info->password.len);
	if (rc == 0)
		return 0;
	return conn->username ? MQTT_RC_BAD_USERNAME_OR_PASSWORD : MQTT_RC_NOT_AUTHORIZED;
}

bool ab_authorize(void *ctx, void *io, enum mqtt_acl_access access, struct mqtt_bytes topic)
{
	struct agent_broker *ab = ctx;
	struct ab_conn *conn = io;
	if (!ab->auth || !ab->auth->acl)
		return true;
	const char *t = ab_cstr(&ab->scratch2, topic);
	if (!t)
		return false;
	struct mqtt_bytes cid = mqtt_broker_client_id(conn->c);
	return auth_allowed(ab->auth, conn->username, (const char *)cid.ptr, t, (enum acl_access)access);
}
