/*
 * marker.h — finding a marker such as "</think>" in text that arrives in pieces: the
 * engine's channel splitter (engine/channels.c) and the remote stream's
 * (net/oai_stream.c) both hold back a possible marker prefix at the end of a piece
 * until the next piece decides it.
 */
#ifndef PONDER_MARKER_H
#define PONDER_MARKER_H

#include <stddef.h>

/* 0: p[0..n) cannot start with m; 1: p is a proper prefix of m; 2: p starts with m. */
int marker_match(const char *p, size_t n, const char *m, size_t mlen);
/* The length of the longest suffix of p[0..n) that is a proper prefix of m. */
size_t marker_tail(const char *p, size_t n, const char *m, size_t mlen);

#endif
