/* libFuzzer target for lua/moonwire/http.lua: http.server's handler is given
 * each input whole and cut into pieces, on fake connections
 * (t/fuzz/fuzz_http.lua and fakeconn.lua say what is checked). */
#include "fuzz_lua.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_lua_init("fuzz_http");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_lua_run(data, size);
    return 0;
}
