/* script: the handler script's text, read by the master before --user drops
 * privileges. Every worker the master forks compiles that text, so a worker
 * runs exactly what was checked, even when USER cannot read the file, and a
 * worker restarted after a reload whose check failed still runs the text
 * that passed. */
#ifndef MW_SCRIPT_H
#define MW_SCRIPT_H

#include <stddef.h>

struct script_text {
    char *path;
    char *bytes;
    size_t len;
};

/* Reads the whole file; on failure returns -1 with "cannot open PATH: reason"
 * in err and *text untouched. */
int script_read(struct script_text *text, const char *path, char *err, size_t errlen);
void script_free(struct script_text *text);
/* The text lscript_load compiles from now on in this process; NULL: the file. */
void script_use(const struct script_text *text);
/* The text in use if it was read from path, else NULL. */
const struct script_text *script_in_use(const char *path);

#endif
