/*
 * crc32c.h: CRC-32C (Castagnoli), the checksum of every WAL record, catalog
 * file, segment header, footer, index and block. Uses the SSE4.2 crc32
 * instruction when the CPU has it, a slicing table otherwise; both give the
 * same values (RFC 3720 check value: crc32c("123456789") = 0xE3069283).
 */
#ifndef VG_ENGINE_CRC32C_H
#define VG_ENGINE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over n bytes. */
uint32_t vg_crc32c(uint32_t crc, const void *p, size_t n);

#endif
