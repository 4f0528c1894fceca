/*
 * vg_error.h: status codes and the error struct every Vigil function fills.
 *
 * Convention (the same in every layer): a function returns an int status,
 * VG_OK (0) or a negative VG_E* code, and, when the caller passes a
 * vg_error_t, writes a message there that says what went wrong and where
 * (file and offset, line and column, field name ...). errno is a detail kept
 * in sys_errno, never the status itself. Library code never prints or exits.
 */
#ifndef VIGIL_VG_ERROR_H
#define VIGIL_VG_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vg_status {
    VG_OK = 0,
    VG_ENOMEM = -1,    /* an allocation failed */
    VG_EIO = -2,       /* a read, write, fsync ... failed; sys_errno says which */
    VG_ECORRUPT = -3,  /* a checksum, magic or bound check failed on stored data */
    VG_EPARSE = -4,    /* malformed input text (line protocol, query, config) */
    VG_ENOTFOUND = -5, /* no such table, column, file */
    VG_EINVAL = -6,    /* a bad argument or option value */
    VG_ELIMIT = -7,    /* a configured limit was hit (line length, series, memory) */
    VG_ECONFLICT = -8, /* field type conflict */
    VG_ELOCKED = -9,   /* another process holds the data folder */
    VG_EREADONLY = -10, /* opened read-only, or turned read-only after an I/O error */
    VG_ENOSPC = -11,   /* no space left on device */
    VG_ERANGE = -12,   /* a timestamp outside retention or too far in the future */
    VG_EAGAIN = -13,   /* try again (internal, never escapes the engine) */
};

#define VG_ERROR_MSG_MAX 512

/* Filled by a failing call when the caller passes one; may be NULL anywhere. */
typedef struct vg_error {
    int code;      /* the same negative status the call returned */
    int sys_errno; /* errno or -cqe->res behind a VG_EIO/VG_ENOSPC, else 0 */
    char msg[VG_ERROR_MSG_MAX];
} vg_error_t;

/* A short constant name for a status ("I/O error", "corrupt data", ...). */
const char *vg_strerror(int status);

/*
 * Record an error: sets err->code, err->sys_errno = 0 and a printf-style
 * message, when err is not NULL. Returns status so callers can write
 * `return vg_error_set(err, VG_EINVAL, "...")`.
 */
int vg_error_set(vg_error_t *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As vg_error_set, with a system errno appended to the message (": strerror"). */
int vg_error_sys(vg_error_t *err, int status, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepend context to an existing message ("opening segment x: " + old). */
int vg_error_wrap(vg_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
