/* ferry-agent: the edge daemon.  Until the broker lands this only answers --version and --help. */
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: ferry-agent [options]\n"
		   "  -c, --config FILE   read FILE (default: embedded defaults)\n"
		   "  -V, --version       print the version and exit\n"
		   "  -h, --help          print this help and exit\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("ferry-agent %s\n", FERRY_VERSION);
			return 0;
		}
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "ferry-agent: unknown option '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	printf("ferry-agent %s: the MQTT broker is not built yet (see docs/)\n", FERRY_VERSION);
	return 0;
}
