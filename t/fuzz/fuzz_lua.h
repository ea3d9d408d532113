/* The C half shared by the fuzz targets of the Lua protocol libraries
 * (fuzz_resp.c, fuzz_http.c): one LuaJIT state running a glue module of
 * t/fuzz on each input, with Lua line coverage fed to libFuzzer. */
#ifndef MW_FUZZ_LUA_H
#define MW_FUZZ_LUA_H

#include <stddef.h>
#include <stdint.h>

/* Makes the state and requires glue (a module of t/fuzz returning the
 * function to call per input); exits on failure. */
void fuzz_lua_init(const char *glue);

/* Calls the glue function on the input; aborts on any Lua error and on an
 * input that runs more than a second of CPU time (the Lua function
 * fuzz_allow(bytes) adds 5 us a byte, for inputs the glue expands). */
void fuzz_lua_run(const uint8_t *data, size_t size);

#endif
