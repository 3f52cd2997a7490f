/* Strings for the error table in err.h. */
#include "base/err.h"

static const char *const texts[ERR_INDEX_COUNT] = {
	[ERR_INDEX_OK] = "ok",
#define X(name, text) [ERR_INDEX_##name] = text,
	ERR_ALL_LIST(X)
#undef X
};

static const char *const names[ERR_INDEX_COUNT] = {
	[ERR_INDEX_OK] = "OK",
#define X(name, text) [ERR_INDEX_##name] = #name,
	ERR_ALL_LIST(X)
#undef X
};

const char *err_str(int code)
{
	if (code > 0 || -code >= ERR_INDEX_COUNT)
		return "unknown error";
	return texts[-code];
}

const char *err_name(int code)
{
	if (code > 0 || -code >= ERR_INDEX_COUNT)
		return "UNKNOWN";
	return names[-code];
}
