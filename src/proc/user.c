#include "config.h"

#include "user.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int user_lookup(const char *name, struct user_id *out, char *err, size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        snprintf(err, errlen, "--user %s: %s", name, errno ? strerror(errno) : "no such user");
        return -1;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, errlen, "--user %s: refusing to run handlers as root", name);
        return -1;
    }
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    snprintf(out->name, sizeof out->name, "%s", name);
    return 0;
}

static int fail(char *err, size_t errlen, const char *what, const struct user_id *u)
{
    snprintf(err, errlen, "--user %s: %s: %s", u->name, what, strerror(errno));
    return -1;
}

int user_switch(const struct user_id *u, char *err, size_t errlen)
{
    if (getuid() == u->uid && geteuid() == u->uid)
        return 0;
    if (initgroups(u->name, u->gid) < 0)
        return fail(err, errlen, "initgroups", u);
    if (setgid(u->gid) < 0)
        return fail(err, errlen, "setgid", u);
    if (setuid(u->uid) < 0)
        return fail(err, errlen, "setuid", u);
    if (geteuid() == 0 || setuid(0) == 0) {
        errno = EPERM;
        return fail(err, errlen, "still root after switching", u);
    }
    return 0;
}
