/*
 * bytes.h — a size for people: "512 B", "11.90 KiB", "45.02 MiB", "5.81 GiB" (powers of
 * 1024, as --kv-cache-max reads them).
 */
#ifndef PONDER_BYTES_H
#define PONDER_BYTES_H

#include <stddef.h>
#include <stdint.h>

void fmt_bytes(char *buf, size_t cap, uint64_t v);

#endif
