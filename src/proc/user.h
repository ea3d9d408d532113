/* user: the account workers run as (--user USER). Looked up once by the
 * master, which keeps its privileges to bind and respawn; every child it
 * forks switches before running any Lua, and never runs it as root. */
#ifndef MW_USER_H
#define MW_USER_H

#include <stddef.h>
#include <sys/types.h>

struct user_id {
    uid_t uid;
    gid_t gid;
    char name[64];
};

/* Fills out for name; -1 with err set when unknown, or when it is root. */
int user_lookup(const char *name, struct user_id *out, char *err, size_t errlen);
/* Switches this process to the user, groups first; -1 with err set. */
int user_switch(const struct user_id *u, char *err, size_t errlen);

#endif
