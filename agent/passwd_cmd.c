/* `ferry-agent passwd [-c] FILE USER` (auth.h).  Reads the password without echo from a terminal, or the
 * first line of stdin (for scripts); never takes it on the command line, where ps would show it. */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "agent/auth.h"
#include "base/err.h"

static int read_line(FILE *in, char *buf, size_t cap)
{
	if (!fgets(buf, (int)cap, in))
		return ERR_CLOSED;
	size_t n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n == cap - 1)
		return ERR_TOO_LARGE;
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

static int prompt(const char *text, char *buf, size_t cap)
{
	struct termios old, quiet;
	fputs(text, stderr);
	fflush(stderr);
	bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	int rc = read_line(stdin, buf, cap);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return rc;
}

static char pw1[4096], pw2[4096];

int auth_passwd_command(int argc, char **argv)
{
	bool create = false;
	int i = 1;
	if (i < argc && strcmp(argv[i], "-c") == 0)
		create = true, i++;
	if (argc - i != 2) {
		fprintf(stderr, "usage: ferry-agent passwd [-c] FILE USER\n"
				"  sets USER's password in FILE (-c: start a new FILE); the password is read from\n"
				"  the terminal, or from the first line of standard input\n");
		return 2;
	}
	const char *file = argv[i], *user = argv[i + 1];
	int rc;
	if (isatty(STDIN_FILENO)) {
		rc = prompt("Password: ", pw1, sizeof pw1);
		if (!rc)
			rc = prompt("Again: ", pw2, sizeof pw2);
		if (!rc && strcmp(pw1, pw2) != 0) {
			fprintf(stderr, "ferry-agent passwd: the passwords differ\n");
			rc = ERR_INVAL;
		}
	} else {
		rc = read_line(stdin, pw1, sizeof pw1);
	}
	if (!rc && !pw1[0]) {
		fprintf(stderr, "ferry-agent passwd: empty password refused\n");
		rc = ERR_INVAL;
	}
	char err[300] = "";
	if (!rc)
		rc = auth_passwd_set(file, create, user, (const uint8_t *)pw1, strlen(pw1), AUTH_ITERATIONS_DEFAULT, err,
				     sizeof err);
	memset(pw1, 0, sizeof pw1);
	memset(pw2, 0, sizeof pw2);
	if (rc) {
		if (err[0])
			fprintf(stderr, "ferry-agent passwd: %s\n", err);
		else if (rc != ERR_INVAL)
			fprintf(stderr, "ferry-agent passwd: cannot read the password: %s\n", err_str(rc));
		return 1;
	}
	return 0;
}
