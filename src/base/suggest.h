/* suggest: the known name closest to one that is not known, for the "did you
 * mean ...?" of a warning. Closeness is the edit distance (an insertion, a
 * deletion, a change, or two neighbours swapped: one edit each). */
#ifndef MW_SUGGEST_H
#define MW_SUGGEST_H

#define SUGGEST_MAX_NAME 64 /* longer names are close to nothing */

/* The edits that make b of a; SUGGEST_FAR when either is longer than
 * SUGGEST_MAX_NAME. */
unsigned suggest_distance(const char *a, const char *b);
#define SUGGEST_FAR 0xffffffffu

/* Of the names in known (ended by NULL), the one closest to name: it differs
 * only in case, or by at most a third of name's length in edits (one edit
 * at least); the first of equals. NULL when none is that close. */
const char *suggest_closest(const char *name, const char *const *known);

#endif
