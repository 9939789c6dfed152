#pragma once
#include <uv.h>
#include <stddef.h>

/* glibc's memmem (a GNU extension the Glibc module does not export): rt-load's key search. */
void *memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len);

/* glibc's heap statistics: rt-bench text measures the heap a document adds. */
#include <malloc.h>
