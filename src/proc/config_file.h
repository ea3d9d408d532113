/* config_file: moonwire -c FILE, a Lua file that returns the settings and
 * the listeners (with a script each), as moonwire(1) CONFIGURATION FILE
 * describes. It runs in a sandbox of its own before the command line is
 * taken, which overrides it. */
#ifndef MW_CONFIG_FILE_H
#define MW_CONFIG_FILE_H

#include <stddef.h>

struct options;

/* Runs the file and takes its settings into opts (after options_init,
 * before options_take of the command line). Returns 0, or -1 with err set:
 * "FILE:LINE: key.path: why", or the Lua error of a file that fails to run. */
int config_apply(const char *path, struct options *opts, char *err, size_t errlen);

#endif
