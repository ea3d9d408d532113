#include "config.h"

#include "lscript.h"

#include "script.h"

#include <lauxlib.h>

int lscript_load(lua_State *L, const char *path)
{
    const struct script_text *text = script_in_use(path);
    if (!text)
        return luaL_loadfile(L, path);
    const char *bytes = text->bytes ? text->bytes : "";
    size_t skip = 0;
    /* A "#!" line, as luaL_loadfile skips it; its newline stays for the count. */
    if (text->len > 0 && bytes[0] == '#')
        while (skip < text->len && bytes[skip] != '\n')
            skip++;
    lua_pushfstring(L, "@%s", path);
    int rc = luaL_loadbuffer(L, bytes + skip, text->len - skip, lua_tostring(L, -1));
    lua_remove(L, -2);
    return rc;
}
