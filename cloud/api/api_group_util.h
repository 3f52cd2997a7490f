/* Small conversions the group API handlers share. */
#ifndef FERRY_CLOUD_API_GROUP_UTIL_H
#define FERRY_CLOUD_API_GROUP_UTIL_H

#include "cloud/api/api.h"
#include "cloud/group/group.h"

static inline struct group_view gview(struct kafka_str s)
{
	return s.len < 0 ? (struct group_view){NULL, 0} : (struct group_view){s.p ? s.p : "", (size_t)s.len};
}
static inline struct group_view bview(struct kafka_bytes s)
{
	return s.len < 0 ? (struct group_view){NULL, 0} : (struct group_view){s.p ? (const void *)s.p : "", (size_t)s.len};
}

#endif
