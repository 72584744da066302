/* The proleptic Gregorian calendar in UTC, as days since 1970-01-01: what the
 * EFI stage converts the firmware's time from, and what a partition's CMOS
 * clock (vmm/dev/vrtc.c) shows. Pure, for unit tests. */
#ifndef ISTHMUS_KERNEL_LIB_CALENDAR_H
#define ISTHMUS_KERNEL_LIB_CALENDAR_H

#include "kernel/lib/types.h"

#define CAL_SECS_PER_DAY 86400ULL
#define CAL_NS_PER_SEC   1000000000ULL

struct cal_date {
    s32 year;
    u8 month;   /* 1..12 */
    u8 day;     /* 1..31 */
    u8 weekday; /* 0 = Sunday .. 6 */
};

/* Days from 1970-01-01 to year-month-day (negative before 1970). The month is
 * taken as it is: callers check the ranges of what they did not make. */
s64 cal_days_from_civil(s32 year, u32 month, u32 day);
/* The date `days` after 1970-01-01 (a Thursday). */
struct cal_date cal_civil_from_days(s64 days);
/* Whether year-month-day names a real day (month 1..12, day within it). */
bool cal_date_valid(s32 year, u32 month, u32 day);

#endif
