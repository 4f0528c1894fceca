/*
 * error.c: filling vg_error_t (vg_error.h).
 */
#include "vigil/vg_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vigil/vg_types.h"

const char *vg_strerror(int status)
{
    switch (status) {
    case VG_OK: return "ok";
    case VG_ENOMEM: return "out of memory";
    case VG_EIO: return "I/O error";
    case VG_ECORRUPT: return "corrupt data";
    case VG_EPARSE: return "parse error";
    case VG_ENOTFOUND: return "not found";
    case VG_EINVAL: return "invalid argument";
    case VG_ELIMIT: return "limit exceeded";
    case VG_ECONFLICT: return "field type conflict";
    case VG_ELOCKED: return "database locked";
    case VG_EREADONLY: return "read-only";
    case VG_ENOSPC: return "no space left on device";
    case VG_ERANGE: return "out of range";
    case VG_EAGAIN: return "try again";
    default: return "unknown error";
    }
}

int vg_error_set(vg_error_t *err, int status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = status;
        err->sys_errno = 0;
    }
    return status;
}

int vg_error_sys(vg_error_t *err, int status, int sys_errno, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg)
            snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(sys_errno));
        err->code = status;
        err->sys_errno = sys_errno;
    }
    return status;
}

int vg_error_wrap(vg_error_t *err, const char *fmt, ...)
{
    if (!err)
        return VG_OK;
    char old[VG_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n < sizeof err->msg ? (size_t)n : sizeof err->msg - 1;
    size_t room = sizeof err->msg - used;
    if (room > 3) {
        memcpy(err->msg + used, ": ", 2);
        size_t ol = strnlen(old, room - 3);
        memcpy(err->msg + used + 2, old, ol);
        err->msg[used + 2 + ol] = '\0';
    }
    return err->code;
}

const char *vg_type_name(vg_type_t t)
{
    switch (t) {
    case VG_TYPE_FLOAT: return "float";
    case VG_TYPE_INT: return "integer";
    case VG_TYPE_UINT: return "unsigned";
    case VG_TYPE_BOOL: return "boolean";
    case VG_TYPE_STRING: return "string";
    case VG_TYPE_TAG: return "tag";
    case VG_TYPE_TIME: return "time";
    default: return "none";
    }
}
