/* Negative error codes returned by Isthmus functions (0 = success).
 * The host build uses the C library's values so tests can mix both freely. */
#ifndef ISTHMUS_KERNEL_ERRNO_H
#define ISTHMUS_KERNEL_ERRNO_H

#ifdef ISTHMUS_HOST
#include <errno.h>
#else
#define EPERM     1
#define ENOENT    2
#define EIO       5
#define E2BIG     7
#define ENOEXEC   8
#define EAGAIN    11
#define ENOMEM    12
#define EFAULT    14
#define EBUSY     16
#define EEXIST    17
#define ENODEV    19
#define EINVAL    22
#define ENOSPC    28
#define ERANGE    34
#define ENOSYS    38
#define EBADMSG   74
#define ENOTSUP   95
#define ETIMEDOUT 110
#endif

const char *strerror_short(int err); /* "EINVAL" etc. for a negative or positive code */

#endif
