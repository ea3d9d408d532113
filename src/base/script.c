#include "config.h"

#include "script.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct script_set *in_use;

static int read_all(FILE *f, struct script_text *text)
{
    size_t cap = 0;
    for (;;) {
        if (text->len == cap) {
            size_t grown = cap ? 2 * cap : 16384;
            char *bytes = realloc(text->bytes, grown);
            if (!bytes)
                return -1;
            text->bytes = bytes, cap = grown;
        }
        size_t n = fread(text->bytes + text->len, 1, cap - text->len, f);
        text->len += n;
        if (n == 0)
            return ferror(f) ? -1 : 0;
    }
}

int script_read(struct script_text *text, const char *path, char *err, size_t errlen)
{
    struct script_text fresh = {strdup(path), NULL, 0};
    FILE *f = fresh.path ? fopen(path, "rb") : NULL;
    int rc = f && read_all(f, &fresh) == 0 ? 0 : -1;
    int saved = errno;
    if (f && fclose(f) != 0 && rc == 0)
        rc = -1, saved = errno;
    if (rc < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(saved));
        script_free(&fresh);
        return -1;
    }
    *text = fresh;
    return 0;
}

void script_free(struct script_text *text)
{
    free(text->path);
    free(text->bytes);
    *text = (struct script_text){NULL, NULL, 0};
}

int script_set_read(struct script_set *set, const char *const *paths, int n, char *err,
                    size_t errlen)
{
    struct script_set fresh = {.n = 0};
    if (n > SCRIPT_SET_MAX) {
        snprintf(err, errlen, "too many scripts (at most %d)", SCRIPT_SET_MAX);
        return -1;
    }
    for (; fresh.n < n; fresh.n++) {
        if (script_read(&fresh.texts[fresh.n], paths[fresh.n], err, errlen) < 0) {
            script_set_free(&fresh);
            return -1;
        }
    }
    *set = fresh;
    return 0;
}

void script_set_free(struct script_set *set)
{
    if (in_use == set)
        in_use = NULL;
    for (int i = 0; i < set->n; i++)
        script_free(&set->texts[i]);
    set->n = 0;
}

void script_use(const struct script_set *set)
{
    in_use = set;
}

const struct script_text *script_in_use(const char *path)
{
    for (int i = 0; in_use && i < in_use->n; i++)
        if (in_use->texts[i].path && strcmp(in_use->texts[i].path, path) == 0)
            return &in_use->texts[i];
    return NULL;
}
