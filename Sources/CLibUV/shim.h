#pragma once
#include <uv.h>

#include <pthread.h>

/* glibc's pthread_setname_np (a GNU extension the Glibc module does not export): names the
 * core's threads for top -H and profilers. */
int pthread_setname_np(pthread_t thread, const char *name);
