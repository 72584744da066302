/* See calendar.h. Counting in 400-year eras of 146097 days, with each year
 * starting on March 1 so that February's leap day is the last day of the
 * year: the month lengths are then a linear function of the month, and the
 * same formula holds both ways (the well-known "days from civil" method). */
#include "kernel/lib/calendar.h"

#define DAYS_PER_ERA   146097 /* 400 Gregorian years */
#define DAYS_1970_FROM 719468 /* 0000-03-01 to 1970-01-01 */

static s64 floor_div(s64 a, s64 b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

s64 cal_days_from_civil(s32 year, u32 month, u32 day)
{
    s64 y = (s64)year - (month <= 2);
    s64 era = floor_div(y, 400);
    s64 yoe = y - era * 400;                              /* 0..399 */
    s64 mp = month > 2 ? (s64)month - 3 : (s64)month + 9; /* March = 0 */
    s64 doy = (153 * mp + 2) / 5 + (s64)day - 1;          /* 0..365 */
    s64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;      /* 0..146096 */
    return era * DAYS_PER_ERA + doe - DAYS_1970_FROM;
}

struct cal_date cal_civil_from_days(s64 days)
{
    s64 z = days + DAYS_1970_FROM;
    s64 era = floor_div(z, DAYS_PER_ERA);
    s64 doe = z - era * DAYS_PER_ERA;                                /* 0..146096 */
    s64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    s64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    s64 mp = (5 * doy + 2) / 153;                                    /* 0..11, March = 0 */
    struct cal_date d;
    d.day = (u8)(doy - (153 * mp + 2) / 5 + 1);
    d.month = (u8)(mp < 10 ? mp + 3 : mp - 9);
    d.year = (s32)(yoe + era * 400 + (d.month <= 2));
    s64 wd = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    d.weekday = (u8)(wd < 0 ? wd + 7 : wd);
    return d;
}

bool cal_date_valid(s32 year, u32 month, u32 day)
{
    static const u8 len[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (month < 1 || month > 12 || day < 1 || day > len[month - 1])
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return !(month == 2 && day == 29 && !leap);
}
