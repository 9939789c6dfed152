/*
 * test_tokens.c — PASETO v4.public tokens through the C ABI: issue and verify round trips; the
 * claims JSON; wrong purpose, expiry, forged (every character flipped), other versions and
 * purposes, stripped signatures; signing-key rotation, removal and public-key export; bad
 * arguments. Errors follow realtime.h: RT_ECORRUPT malformed or forged, RT_ENOTFOUND unknown
 * key id, RT_EPERM authentic but not acceptable.
 */
#define _XOPEN_SOURCE 700

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <realtime.h>

#include "harness.h"
#include "doc_support.h"

static const uint8_t seed_a[RT_TOKEN_SEED_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static rt_bytes issue(rt_core *core, const char *sub, int typ, int64_t ttl)
{
    rt_bytes out = {NULL, 0};
    CHECK_EQ_INT(rt_token_issue(core, sub, "phone", "chat:read", typ, ttl, &out), RT_OK);
    return out;
}

static rt_status verify(rt_core *core, const char *token, size_t len, int typ, rt_bytes *claims)
{
    return rt_token_verify(core, token, len, typ, claims);
}

static void test_issue_and_verify(void)
{
    rt_core *core = open_core(NULL);
    rt_bytes token = {NULL, 0}, claims = {NULL, 0};
    const char *json;

    if (core == NULL)
        return;
    /* No key: nothing is issued. */
    CHECK_EQ_INT(rt_token_issue(core, "u", NULL, NULL, RT_TOKEN_ACCESS, 0, &token), RT_ESTATE);
    CHECK(token.data == NULL);
    CHECK_EQ_INT(rt_token_key_add(core, "k1", seed_a, sizeof seed_a), RT_OK);
    token = issue(core, "user-1", RT_TOKEN_ACCESS, 0);
    CHECK(token.data != NULL && strncmp((const char *)token.data, "v4.public.", 10) == 0);
    CHECK(token.data != NULL && token.data[token.len] == '\0' && strlen((const char *)token.data) == token.len);
    /* The footer is {"kid":"k1"}, unpadded base64url. */
    CHECK(token.len > 17 && strcmp((const char *)token.data + token.len - 17, ".eyJraWQiOiJrMSJ9") == 0);
    CHECK_EQ_INT(verify(core, (const char *)token.data, token.len, RT_TOKEN_ACCESS, &claims), RT_OK);
    json = (const char *)claims.data;
    {
        const char *prefix = "{\"sub\":\"user-1\",\"device\":\"phone\",\"scope\":\"chat:read\",\"typ\":\"access\",\"iat\":\"";
        CHECK(json != NULL && strncmp(json, prefix, strlen(prefix)) == 0);
    }
    CHECK(json != NULL && strstr(json, "\"jti\":\"") != NULL && json[claims.len] == '\0');
    rt_bytes_free(&claims);
    /* Claims out may be NULL: just verify. */
    CHECK_EQ_INT(verify(core, (const char *)token.data, token.len, RT_TOKEN_ACCESS, NULL), RT_OK);

    /* Wrong purpose, both ways: authentic, not acceptable. */
    CHECK_EQ_INT(verify(core, (const char *)token.data, token.len, RT_TOKEN_REFRESH, &claims), RT_EPERM);
    CHECK(strstr(rt_core_errmsg(core), "wrong purpose") != NULL);
    CHECK(claims.data == NULL);
    rt_bytes_free(&token);
    token = issue(core, "user-1", RT_TOKEN_REFRESH, 0);
    CHECK_EQ_INT(verify(core, (const char *)token.data, token.len, RT_TOKEN_ACCESS, &claims), RT_EPERM);
    CHECK_EQ_INT(verify(core, (const char *)token.data, token.len, RT_TOKEN_REFRESH, &claims), RT_OK);
    CHECK(claims.data != NULL && strstr((const char *)claims.data, "\"typ\":\"refresh\"") != NULL);
    rt_bytes_free(&claims);
    rt_bytes_free(&token);

    /* Expired: a one-second token, two seconds later. */
    token = issue(core, "user-1", RT_TOKEN_ACCESS, 1);
    sleep(2);
    CHECK_EQ_INT(verify(core, (const char *)token.data, token.len, RT_TOKEN_ACCESS, &claims), RT_EPERM);
    CHECK(strstr(rt_core_errmsg(core), "expired") != NULL);
    rt_bytes_free(&token);

    /* Bad arguments. */
    CHECK_EQ_INT(rt_token_issue(core, NULL, NULL, NULL, RT_TOKEN_ACCESS, 0, &token), RT_EINVAL);
    CHECK_EQ_INT(rt_token_issue(core, "", NULL, NULL, RT_TOKEN_ACCESS, 0, &token), RT_EINVAL);
    CHECK_EQ_INT(rt_token_issue(core, "u", NULL, NULL, 3, 0, &token), RT_EINVAL);
    CHECK_EQ_INT(rt_token_issue(core, "u", NULL, NULL, RT_TOKEN_ACCESS, -5, &token), RT_EINVAL);
    CHECK_EQ_INT(rt_token_issue(core, "u", "\xff", NULL, RT_TOKEN_ACCESS, 0, &token), RT_EINVAL);
    CHECK_EQ_INT(rt_token_issue(core, "u", NULL, NULL, RT_TOKEN_ACCESS, 0, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_token_issue(NULL, "u", NULL, NULL, RT_TOKEN_ACCESS, 0, &token), RT_EINVAL);
    CHECK(token.data == NULL);
    CHECK_EQ_INT(verify(core, NULL, 5, RT_TOKEN_ACCESS, &claims), RT_EINVAL);
    CHECK_EQ_INT(verify(core, "v4.public.", 10, 0, &claims), RT_EINVAL);
    CHECK_EQ_INT(verify(NULL, "v4.public.", 10, RT_TOKEN_ACCESS, &claims), RT_EINVAL);
    rt_core_close(&core);
}

static void test_forged_and_foreign_tokens(void)
{
    rt_core *core = open_core(NULL);
    rt_bytes token = {NULL, 0}, claims = {NULL, 0};
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
    char *copy;
    size_t i;

    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_token_key_add(core, "k1", seed_a, sizeof seed_a), RT_OK);
    token = issue(core, "user-1", RT_TOKEN_ACCESS, 0);
    copy = malloc(token.len + 8);
    if (copy == NULL || token.data == NULL)
        goto out;
    /* Every character changed is refused, and nothing comes back. */
    for (i = 0; i < token.len; i++) {
        rt_status rc;
        memcpy(copy, token.data, token.len);
        copy[i] = alphabet[((unsigned char)copy[i] + 1) % (sizeof alphabet - 1)];
        if (copy[i] == (char)token.data[i])
            continue;
        rc = verify(core, copy, token.len, RT_TOKEN_ACCESS, &claims);
        CHECK(rc == RT_ECORRUPT || rc == RT_ENOTFOUND);
        CHECK(claims.data == NULL && claims.len == 0);
    }
    /* Cut short, or with bytes after it. */
    CHECK_EQ_INT(verify(core, (const char *)token.data, token.len - 1, RT_TOKEN_ACCESS, &claims), RT_ECORRUPT);
    memcpy(copy, token.data, token.len);
    memcpy(copy + token.len, "=", 1);
    CHECK_EQ_INT(verify(core, copy, token.len + 1, RT_TOKEN_ACCESS, &claims), RT_ECORRUPT);
    memcpy(copy + token.len, ".", 1);
    CHECK_EQ_INT(verify(core, copy, token.len + 1, RT_TOKEN_ACCESS, &claims), RT_ECORRUPT);
    /* Other versions and purposes: the same body under another header. */
    memcpy(copy, token.data, token.len);
    memcpy(copy, "v3.public.", 10);
    CHECK_EQ_INT(verify(core, copy, token.len, RT_TOKEN_ACCESS, &claims), RT_ECORRUPT);
    CHECK(strstr(rt_core_errmsg(core), "v4.public") != NULL);
    memcpy(copy + 1, "2", 1);
    CHECK_EQ_INT(verify(core, copy, token.len, RT_TOKEN_ACCESS, &claims), RT_ECORRUPT);
    memcpy(copy + 1, "4.local.", 8); /* "v4.local." is one byte shorter: shift the rest */
    memmove(copy + 9, token.data + 10, token.len - 10);
    CHECK_EQ_INT(verify(core, copy, token.len - 1, RT_TOKEN_ACCESS, &claims), RT_ECORRUPT);
    CHECK(strstr(rt_core_errmsg(core), "v4.local") != NULL);
    /* A header alone, and a body with no signature ("alg none"): the claims JSON alone. */
    CHECK_EQ_INT(verify(core, "v4.public.", 10, RT_TOKEN_ACCESS, &claims), RT_ECORRUPT);
    {
        const char *none = "v4.public.eyJzdWIiOiJ1In0.eyJraWQiOiJrMSJ9"; /* {"sub":"u"} . {"kid":"k1"} */
        CHECK_EQ_INT(verify(core, none, strlen(none), RT_TOKEN_ACCESS, &claims), RT_ECORRUPT);
    }
    /* Signed by a key id this core does not hold. */
    {
        rt_core *other = open_core(NULL);
        rt_bytes foreign;
        CHECK_EQ_INT(rt_token_key_add(other, "elsewhere", seed_a, sizeof seed_a), RT_OK);
        foreign = issue(other, "user-1", RT_TOKEN_ACCESS, 0);
        CHECK_EQ_INT(verify(core, (const char *)foreign.data, foreign.len, RT_TOKEN_ACCESS, &claims), RT_ENOTFOUND);
        rt_bytes_free(&foreign);
        rt_core_close(&other);
    }
out:
    free(copy);
    rt_bytes_free(&token);
    rt_core_close(&core);
}

static void test_key_rotation(void)
{
    rt_core *core = open_core(NULL);
    uint8_t seed_b[RT_TOKEN_SEED_BYTES], pk_a[RT_TOKEN_PUBLIC_KEY_BYTES], pk_b[RT_TOKEN_PUBLIC_KEY_BYTES];
    uint8_t pk[RT_TOKEN_PUBLIC_KEY_BYTES];
    rt_bytes old = {NULL, 0}, fresh = {NULL, 0};

    if (core == NULL)
        return;
    memset(seed_b, 0xB2, sizeof seed_b);
    CHECK_EQ_INT(rt_token_public_key(core, NULL, pk), RT_ESTATE);
    CHECK_EQ_INT(rt_token_key_add(core, "2026-11-a", seed_a, sizeof seed_a), RT_OK);
    CHECK_EQ_INT(rt_token_key_add(core, "2026-11-b", seed_b, sizeof seed_b), RT_OK);
    CHECK_EQ_INT(rt_token_public_key(core, "2026-11-a", pk_a), RT_OK);
    CHECK_EQ_INT(rt_token_public_key(core, "2026-11-b", pk_b), RT_OK);
    CHECK(memcmp(pk_a, pk_b, sizeof pk_a) != 0);
    CHECK_EQ_INT(rt_token_public_key(core, NULL, pk), RT_OK); /* the first added is current */
    CHECK(memcmp(pk, pk_a, sizeof pk) == 0);
    old = issue(core, "u", RT_TOKEN_ACCESS, 0);
    CHECK_EQ_INT(rt_token_key_use(core, "2026-11-b"), RT_OK);
    fresh = issue(core, "u", RT_TOKEN_ACCESS, 0);
    /* Both verify while both keys are held. */
    CHECK_EQ_INT(verify(core, (const char *)old.data, old.len, RT_TOKEN_ACCESS, NULL), RT_OK);
    CHECK_EQ_INT(verify(core, (const char *)fresh.data, fresh.len, RT_TOKEN_ACCESS, NULL), RT_OK);
    /* The current key cannot be removed; the old one can, and its tokens are refused. */
    CHECK_EQ_INT(rt_token_key_remove(core, "2026-11-b"), RT_ESTATE);
    CHECK_EQ_INT(rt_token_key_remove(core, "2026-11-a"), RT_OK);
    CHECK_EQ_INT(verify(core, (const char *)old.data, old.len, RT_TOKEN_ACCESS, NULL), RT_ENOTFOUND);
    CHECK_EQ_INT(verify(core, (const char *)fresh.data, fresh.len, RT_TOKEN_ACCESS, NULL), RT_OK);
    CHECK_EQ_INT(rt_token_key_remove(core, "2026-11-a"), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_token_public_key(core, "2026-11-a", pk), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_token_key_use(core, "nope"), RT_ENOTFOUND);
    /* Bad key ids and seeds. */
    CHECK_EQ_INT(rt_token_key_add(core, "", seed_a, 32), RT_EINVAL);
    CHECK_EQ_INT(rt_token_key_add(core, "a b", seed_a, 32), RT_EINVAL);
    CHECK_EQ_INT(rt_token_key_add(core, NULL, seed_a, 32), RT_EINVAL);
    CHECK_EQ_INT(rt_token_key_add(core, "k", seed_a, 31), RT_EINVAL);
    CHECK_EQ_INT(rt_token_key_add(core, "k", NULL, 32), RT_EINVAL);
    CHECK_EQ_INT(rt_token_key_add(core, "2026-11-b", seed_a, 32), RT_EINVAL); /* held with another seed */
    CHECK_EQ_INT(rt_token_key_add(core, "2026-11-b", seed_b, 32), RT_OK);     /* the same again */
    CHECK_EQ_INT(rt_token_public_key(core, "2026-11-b", NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_token_key_add(NULL, "k", seed_a, 32), RT_EINVAL);
    rt_bytes_free(&old);
    rt_bytes_free(&fresh);
    rt_core_close(&core);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_issue_and_verify);
    RUN(test_forged_and_foreign_tokens);
    RUN(test_key_rotation);
    return harness_summary();
}
