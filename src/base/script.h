/* script: the text of the handler scripts, read by the master before --user
 * drops privileges. Every worker the master forks compiles that text, so a
 * worker runs exactly what was checked, even when USER cannot read the
 * file, and a worker restarted after a reload whose check failed still runs
 * the text that passed. A server runs one script, or one per listener: a
 * set of texts. */
#ifndef MW_SCRIPT_H
#define MW_SCRIPT_H

#include <stddef.h>

struct script_text {
    char *path;
    char *bytes;
    size_t len;
};

#define SCRIPT_SET_MAX 32

struct script_set {
    struct script_text texts[SCRIPT_SET_MAX];
    int n;
};

/* Reads the whole file; on failure returns -1 with "cannot open PATH: reason"
 * in err and *text untouched. */
int script_read(struct script_text *text, const char *path, char *err, size_t errlen);
void script_free(struct script_text *text);
/* Reads every file of paths (n at most SCRIPT_SET_MAX); on failure returns -1
 * with err set (the first that failed) and *set untouched. */
int script_set_read(struct script_set *set, const char *const *paths, int n, char *err,
                    size_t errlen);
void script_set_free(struct script_set *set);
/* The texts lscript_load compiles from now on in this process; NULL: the files. */
void script_use(const struct script_set *set);
/* The text in use that was read from path, else NULL. */
const struct script_text *script_in_use(const char *path);

#endif
