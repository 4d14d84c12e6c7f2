#include "util/ptime.h"

#include <stdio.h>
#include <string.h>

static int days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

int64_t pg_time_from_utc(int year, int mon, int mday, int hour, int min, int sec)
{
	if (year < 1 || year > 9999 || mon < 1 || mon > 12 || mday < 1 ||
	    mday > days_in_month(year, mon) || hour < 0 || hour > 23 || min < 0 || min > 59 ||
	    sec < 0 || sec > 60)
		return -1;
	/* Days from civil, proleptic Gregorian (H. Hinnant's algorithm). */
	int64_t y = year - (mon <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (mon + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + mday - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return days * 86400 + hour * 3600 + min * 60 + sec;
}

static int alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int pg_time_parse_iso8601(const char *s, int64_t *out)
{
	const char *p = s;
	int Y, M, D, h = 0, m = 0, sec = 0;
	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' ||
	    digits(&p, 2, &D))
		return -1;
	int64_t off = 0;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				if (*p < '0' || *p > '9')
					return -1;
				while (*p >= '0' && *p <= '9')
					p++;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p == '-' ? -1 : 1, oh, om = 0;
			p++;
			if (digits(&p, 2, &oh))
				return -1;
			if (*p == ':')
				p++;
			if (*p != '\0' && digits(&p, 2, &om))
				return -1;
			if (oh > 23 || om > 59)
				return -1;
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p != '\0')
		return -1;
	int64_t t = pg_time_from_utc(Y, M, D, h, m, sec);
	if (t == -1 && !(Y == 1969 && M == 12 && D == 31))
		return -1;
	*out = t - off;
	return 0;
}

int pg_time_parse_rfc5322(const char *s, int64_t *out)
{
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = s;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	/* an optional day name: "Mon, " */
	if (alpha(p[0]) && alpha(p[1]) && alpha(p[2]) && p[3] == ',')
		p += 4;
	while (*p == ' ')
		p++;
	int D, M = 0, Y, h, m, sec = 0, oh, om;
	/* one or two digits of day; p[1] is read only when p[0] is a digit */
	int dn = p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' ? 2 : 1;
	if (digits(&p, dn, &D) || *p++ != ' ')
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncmp(p, mon + 3 * i, 3) == 0)
			M = i + 1;
	if (M == 0 || p[3] != ' ')
		return -1;
	p += 4;
	if (digits(&p, 4, &Y) || *p++ != ' ' || digits(&p, 2, &h) || *p++ != ':' ||
	    digits(&p, 2, &m))
		return -1;
	if (*p == ':') {
		p++;
		if (digits(&p, 2, &sec))
			return -1;
	}
	if (*p++ != ' ' || (*p != '+' && *p != '-'))
		return -1;
	int sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &oh) || digits(&p, 2, &om) || oh > 23 || om > 59)
		return -1;
	/* what may follow: a comment "(EDT)", or the end of the line */
	if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
		return -1;
	int64_t t = pg_time_from_utc(Y, M, D, h, m, sec);
	if (t == -1 && !(Y == 1969 && M == 12 && D == 31))
		return -1;
	*out = t - sign * (oh * 3600 + om * 60);
	return 0;
}

void pg_time_format_iso8601(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, n, "invalid");
		return;
	}
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void pg_time_format_rfc5322(int64_t t, char *out, size_t n)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	if (localtime_r(&tt, &tm) == NULL) {
		snprintf(out, n, "invalid");
		return;
	}
	char zone[8];
	strftime(zone, sizeof(zone), "%z", &tm);
	snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d %s", days[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
}
