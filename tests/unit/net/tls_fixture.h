/* Test helpers shared by the net unit tests (header-only, static, so no symbol reaches other binaries):
 * a throwaway PKI made by mkcerts.sh in a temp dir, a child process, a loopback port. */
#ifndef FERRY_TEST_TLS_FIXTURE_H
#define FERRY_TEST_TLS_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char pki_dir[256];

/* Make the PKI once per binary; returns the directory (removed at exit). */
static inline const char *fixture_pki(void)
{
	if (pki_dir[0])
		return pki_dir;
	snprintf(pki_dir, sizeof pki_dir, "/tmp/ferry-pki-XXXXXX");
	if (!mkdtemp(pki_dir))
		return NULL;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "bash tests/unit/net/mkcerts.sh %s", pki_dir);
	if (system(cmd) != 0)
		return NULL;
	return pki_dir;
}

static inline void fixture_cleanup(void)
{
	if (pki_dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf %s", pki_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", pki_dir);
	}
}

static inline const char *pki(const char *name)
{
	static char paths[8][300];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 300, "%s/%s", fixture_pki(), name);
	return p;
}

/* Start `sh -c cmd` in the background. */
static inline pid_t fixture_spawn(const char *cmd)
{
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Stop a child started by fixture_spawn (its whole process group) and reap it. */
static inline void fixture_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(-pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* A port that was free a moment ago on 127.0.0.1. */
static inline int fixture_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	close(fd);
	return ntohs(a.sin_port);
}

/* Wait (bounded) until something listens on 127.0.0.1:port. */
static inline int fixture_wait_port(int port)
{
	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
		close(fd);
		if (rc == 0)
			return 0;
		usleep(25000);
	}
	return -1;
}

static inline size_t fixture_read_file(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(out, 1, cap - 1, f) : 0;
	if (f)
		fclose(f);
	out[n] = '\0';
	return n;
}

#endif
