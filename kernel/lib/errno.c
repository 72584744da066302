/* Short symbolic names for error codes, for log lines and shell messages. */
#include "kernel/lib/errno.h"
#include "kernel/lib/types.h"

const char *strerror_short(int err)
{
    /* Unsigned negation: INT_MIN has no positive counterpart. */
    unsigned e = err < 0 ? 0u - (unsigned)err : (unsigned)err;

    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case E2BIG: return "E2BIG";
    case ENOEXEC: return "ENOEXEC";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case ENOSYS: return "ENOSYS";
    case EBADMSG: return "EBADMSG";
    case ENOTSUP: return "ENOTSUP";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "E?";
    }
}
