/* header_c99.c — realtime.h must compile on its own as strict C99 (checked with -fsyntax-only
 * by run.sh); it is included first, so a missing #include inside the header shows up here. */
#include "realtime.h"

int main(void)
{
    rt_config c = RT_CONFIG_INIT;
    rt_bytes b = {NULL, 0};
    rt_log_fn fn = NULL;
    (void)fn;
    (void)b;
    return c.struct_size == sizeof(rt_config) && RT_VERSION_NUMBER >= 0 ? 0 : 1;
}
