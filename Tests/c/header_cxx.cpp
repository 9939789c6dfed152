// header_cxx.cpp — realtime.h must compile as C++17 (checked with -fsyntax-only by run.sh).
#include "realtime.h"

#include <type_traits>

// The ABI structs must stay plain C layout when seen from C++.
static_assert(std::is_standard_layout<rt_config>::value, "rt_config must be standard-layout");
static_assert(std::is_trivially_copyable<rt_bytes>::value, "rt_bytes must be trivially copyable");

static void on_log(void *user_data, int level, const char *msg)
{
    (void)user_data;
    (void)level;
    (void)msg;
}

int main()
{
    rt_config c = RT_CONFIG_INIT;
    c.log_fn = on_log; // a plain function converts to rt_log_fn: the typedef has C linkage
    rt_core *core = nullptr;
    rt_bytes report = {nullptr, 0};
    rt_access_rules rules = RT_ACCESS_RULES_INIT; // the nested-array initialiser is valid C++ too
    static_assert(std::is_standard_layout<rt_access_rules>::value, "rt_access_rules must be standard-layout");
    // Reference every declaration so a C++-incompatible prototype is caught, not just parsed.
    (void)rt_version_number();
    (void)rt_version_string();
    (void)rt_strerror(RT_EINVAL);
    (void)rt_config_init(&c);
    if (rt_core_open(&c, &core) == RT_OK) {
        (void)rt_core_start(core);
        (void)rt_core_attach(core, nullptr);
        (void)rt_core_sync(core);
        (void)rt_core_check(core, &report);
        (void)rt_access_scope_namespace(core, "chat", &rules);
        (void)rt_access_check(core, nullptr, "chat:acme/x", RT_ACCESS_SUBSCRIBE);
        rt_bytes_free(&report);
        (void)rt_core_stop(core);
        (void)rt_core_errmsg(core);
        (void)rt_core_close(&core);
    }
    return c.struct_size == sizeof(rt_config) ? 0 : 1;
}
