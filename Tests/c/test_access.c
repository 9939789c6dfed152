/*
 * test_access.c — authorization through the C ABI: role names and order; open namespaces; the
 * default rules of a scoped namespace (guests read, members write); per-name overrides and
 * their removal; removal and demotion; memberships and rules surviving a reopen of the same
 * file while scopes are declared again; struct_size; bad arguments. rt_access_check answers
 * RT_OK or RT_EPERM alike for names that exist and names that do not.
 */
#define _XOPEN_SOURCE 700

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <realtime.h>

#include "harness.h"
#include "doc_support.h"
#include "tempdir.h"

static void test_role_names(void)
{
    int role = -1;
    CHECK(RT_ROLE_NONE < RT_ROLE_GUEST && RT_ROLE_GUEST < RT_ROLE_MEMBER && RT_ROLE_MEMBER < RT_ROLE_ADMIN &&
          RT_ROLE_ADMIN < RT_ROLE_OWNER);
    CHECK_EQ_INT(rt_access_role_from_name("owner", &role), RT_OK);
    CHECK_EQ_INT(role, RT_ROLE_OWNER);
    CHECK_EQ_INT(rt_access_role_from_name("CEO", &role), RT_OK);
    CHECK_EQ_INT(role, RT_ROLE_OWNER);
    CHECK_EQ_INT(rt_access_role_from_name("manager", &role), RT_OK);
    CHECK_EQ_INT(role, RT_ROLE_ADMIN);
    CHECK_EQ_INT(rt_access_role_from_name("Staff", &role), RT_OK);
    CHECK_EQ_INT(role, RT_ROLE_MEMBER);
    CHECK_EQ_INT(rt_access_role_from_name("guest", &role), RT_OK);
    CHECK_EQ_INT(role, RT_ROLE_GUEST);
    CHECK_EQ_INT(rt_access_role_from_name("none", &role), RT_OK);
    CHECK_EQ_INT(role, RT_ROLE_NONE);
    CHECK_EQ_INT(rt_access_role_from_name("intern", &role), RT_EINVAL);
    CHECK(strstr(rt_core_errmsg(NULL), "intern") != NULL);
    CHECK_EQ_INT(rt_access_role_from_name(NULL, &role), RT_EINVAL);
    CHECK_EQ_INT(rt_access_role_from_name("owner", NULL), RT_EINVAL);
    CHECK(strcmp(rt_access_role_name(RT_ROLE_ADMIN), "admin") == 0);
    CHECK(strcmp(rt_access_role_name(RT_ROLE_NONE), "none") == 0);
    CHECK(strcmp(rt_access_role_name(7), "") == 0);
}

static void test_scoped_namespace_defaults(void)
{
    rt_core *core = open_core(NULL);
    rt_access_rules rules = RT_ACCESS_RULES_INIT;
    rt_access_rules filled;
    int action;

    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_access_rules_init(&filled), RT_OK);
    CHECK(memcmp(&filled, &rules, sizeof rules) == 0);
    /* Open: everyone may do everything. */
    for (action = 0; action < RT_ACCESS_ACTIONS; action++)
        CHECK_EQ_INT(rt_access_check(core, NULL, "chat:acme/general", action), RT_OK);
    CHECK_EQ_INT(rt_access_scope_namespace(core, "chat", &rules), RT_OK);
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "gus", RT_ROLE_GUEST), RT_OK);
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "mia", RT_ROLE_MEMBER), RT_OK);
    CHECK_EQ_INT(rt_access_set_role(core, "globex", "olga", RT_ROLE_OWNER), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "gus", "chat:acme/general", RT_ACCESS_SUBSCRIBE), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "gus", "chat:acme/general", RT_ACCESS_HISTORY), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "gus", "chat:acme/general", RT_ACCESS_PRESENCE), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "gus", "chat:acme/plan", RT_ACCESS_DOC_READ), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "gus", "chat:acme/general", RT_ACCESS_PUBLISH), RT_EPERM);
    CHECK_EQ_INT(rt_access_check(core, "gus", "chat:acme/plan", RT_ACCESS_DOC_WRITE), RT_EPERM);
    CHECK(strcmp(rt_core_errmsg(core), "not allowed") == 0);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/general", RT_ACCESS_PUBLISH), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/plan", RT_ACCESS_DOC_WRITE), RT_OK);
    for (action = 0; action < RT_ACCESS_ACTIONS; action++) {
        /* Another workspace, anonymous, no workspace segment: refused, the same way whether the
         * channel exists or not. */
        CHECK_EQ_INT(rt_access_check(core, "olga", "chat:acme/general", action), RT_EPERM);
        CHECK_EQ_INT(rt_access_check(core, "olga", "chat:acme/never-made", action), RT_EPERM);
        CHECK_EQ_INT(rt_access_check(core, NULL, "chat:acme/general", action), RT_EPERM);
        CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme", action), RT_EPERM);
        CHECK_EQ_INT(rt_access_check(core, "mia", "chat:globex/x", action), RT_EPERM);
        CHECK_EQ_INT(rt_access_check(core, NULL, "other:acme/general", action), RT_OK);
    }
    /* Custom rules: members only even to read. */
    rules.min_role[RT_ACCESS_SUBSCRIBE] = RT_ROLE_MEMBER;
    CHECK_EQ_INT(rt_access_scope_namespace(core, "chat", &rules), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "gus", "chat:acme/general", RT_ACCESS_SUBSCRIBE), RT_EPERM);
    /* Opened again. */
    CHECK_EQ_INT(rt_access_scope_namespace(core, "chat", NULL), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, NULL, "chat:acme/general", RT_ACCESS_PUBLISH), RT_OK);
    rt_core_close(&core);
}

static void test_overrides_and_demotion(void)
{
    rt_core *core = open_core(NULL);
    rt_access_rules rules = RT_ACCESS_RULES_INIT;
    int role = -1;

    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_access_scope_namespace(core, "chat", &rules), RT_OK);
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "mia", RT_ROLE_MEMBER), RT_OK);
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "ada", RT_ROLE_ADMIN), RT_OK);
    CHECK_EQ_INT(rt_access_set_rule(core, "chat:acme/announcements", RT_ACCESS_PUBLISH, RT_ROLE_ADMIN), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/announcements", RT_ACCESS_PUBLISH), RT_EPERM);
    CHECK_EQ_INT(rt_access_check(core, "ada", "chat:acme/announcements", RT_ACCESS_PUBLISH), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/announcements", RT_ACCESS_SUBSCRIBE), RT_OK);
    CHECK_EQ_INT(rt_access_set_rule(core, "chat:acme/announcements", RT_ACCESS_PUBLISH, RT_ACCESS_INHERIT), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/announcements", RT_ACCESS_PUBLISH), RT_OK);
    /* A public channel inside the workspace. */
    CHECK_EQ_INT(rt_access_set_rule(core, "chat:acme/lobby", RT_ACCESS_SUBSCRIBE, RT_ROLE_NONE), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, NULL, "chat:acme/lobby", RT_ACCESS_SUBSCRIBE), RT_OK);
    /* Demotion and removal. */
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "mia", RT_ROLE_GUEST), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/general", RT_ACCESS_PUBLISH), RT_EPERM);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/general", RT_ACCESS_SUBSCRIBE), RT_OK);
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "mia", RT_ROLE_NONE), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/general", RT_ACCESS_SUBSCRIBE), RT_EPERM);
    CHECK_EQ_INT(rt_access_role(core, "acme", "mia", &role), RT_OK);
    CHECK_EQ_INT(role, RT_ROLE_NONE);
    rt_core_close(&core);
}

static void test_persistence(void)
{
    char *dir = make_tempdir();
    char *path = dir ? path_join(dir, "access.db") : NULL;
    rt_access_rules rules = RT_ACCESS_RULES_INIT;
    rt_core *core;
    int role = -1;

    if (path == NULL)
        return;
    core = open_core(path);
    if (core != NULL) {
        CHECK_EQ_INT(rt_access_set_role(core, "acme", "ada", RT_ROLE_ADMIN), RT_OK);
        CHECK_EQ_INT(rt_access_set_role(core, "acme", "mia", RT_ROLE_MEMBER), RT_OK);
        CHECK_EQ_INT(rt_access_set_rule(core, "chat:acme/news", RT_ACCESS_PUBLISH, RT_ROLE_ADMIN), RT_OK);
        rt_core_close(&core);
    }
    core = open_core(path);
    if (core != NULL) {
        CHECK_EQ_INT(rt_access_role(core, "acme", "ada", &role), RT_OK);
        CHECK_EQ_INT(role, RT_ROLE_ADMIN);
        CHECK_EQ_INT(rt_access_role(core, "acme", "mia", &role), RT_OK);
        CHECK_EQ_INT(role, RT_ROLE_MEMBER);
        /* Scopes are configuration: open until declared again. */
        CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/news", RT_ACCESS_PUBLISH), RT_OK);
        CHECK_EQ_INT(rt_access_scope_namespace(core, "chat", &rules), RT_OK);
        CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/news", RT_ACCESS_PUBLISH), RT_EPERM);
        CHECK_EQ_INT(rt_access_check(core, "ada", "chat:acme/news", RT_ACCESS_PUBLISH), RT_OK);
        rt_core_close(&core);
    }
    free(path);
    remove_tempdir(dir);
}

static void test_bad_arguments(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_access_rules rules = RT_ACCESS_RULES_INIT;
    char long_name[200];
    int role = -1;

    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    /* Not running: changes are refused, reads and checks work. */
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "mia", RT_ROLE_MEMBER), RT_ESTATE);
    CHECK_EQ_INT(rt_access_role(core, "acme", "mia", &role), RT_OK);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/x", RT_ACCESS_PUBLISH), RT_OK);
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    memset(long_name, 'w', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_EQ_INT(rt_access_set_role(core, long_name, "mia", RT_ROLE_MEMBER), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_role(core, "", "mia", RT_ROLE_MEMBER), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_role(core, "ac/me", "mia", RT_ROLE_MEMBER), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "", RT_ROLE_MEMBER), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_role(core, "acme", long_name, RT_ROLE_MEMBER), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "mia", 5), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_role(core, "acme", "mia", -1), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_role(core, NULL, "mia", RT_ROLE_MEMBER), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_role(NULL, "acme", "mia", RT_ROLE_MEMBER), RT_EINVAL);
    CHECK_EQ_INT(rt_access_role(core, "acme", "mia", NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_access_check(core, "mia", NULL, RT_ACCESS_PUBLISH), RT_EINVAL);
    CHECK_EQ_INT(rt_access_check(core, "mia", "chat:acme/x", 6), RT_EINVAL);
    CHECK_EQ_INT(rt_access_check(NULL, "mia", "chat:acme/x", RT_ACCESS_PUBLISH), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_rule(core, "", RT_ACCESS_PUBLISH, RT_ROLE_ADMIN), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_rule(core, "chat:acme/x", 9, RT_ROLE_ADMIN), RT_EINVAL);
    CHECK_EQ_INT(rt_access_set_rule(core, "chat:acme/x", RT_ACCESS_PUBLISH, 8), RT_EINVAL);
    CHECK_EQ_INT(rt_access_scope_namespace(core, "Chat", &rules), RT_EINVAL);
    CHECK_EQ_INT(rt_access_scope_namespace(core, NULL, &rules), RT_EINVAL);
    rules.min_role[RT_ACCESS_PUBLISH] = 11;
    CHECK_EQ_INT(rt_access_scope_namespace(core, "chat", &rules), RT_EINVAL);
    rules.min_role[RT_ACCESS_PUBLISH] = RT_ROLE_MEMBER;
    rules.struct_size = sizeof rules - 1;
    CHECK_EQ_INT(rt_access_scope_namespace(core, "chat", &rules), RT_EVERSION);
    CHECK_EQ_INT(rt_access_rules_init(NULL), RT_EINVAL);
    rt_core_close(&core);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_role_names);
    RUN(test_scoped_namespace_defaults);
    RUN(test_overrides_and_demotion);
    RUN(test_persistence);
    RUN(test_bad_arguments);
    return harness_summary();
}
