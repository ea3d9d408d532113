/* pidfile: the master's pid in a file (--pid-file), locked while it runs.
 * A second moonwire given the same file refuses to start; a file left by a
 * dead master is not locked and is taken over. */
#ifndef MW_PIDFILE_H
#define MW_PIDFILE_H

#include <stddef.h>

/* Opens and locks path: the descriptor, or -1 with err set (held, or the
 * system's reason). Nothing is written yet. */
int pidfile_lock(const char *path, char *err, size_t errlen);
/* Writes this process's pid into the locked file. */
int pidfile_write(int fd, const char *path, char *err, size_t errlen);
/* Removes the file and releases the lock. */
void pidfile_remove(int fd, const char *path);

#endif
