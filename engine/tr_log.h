/* tr_log.h - tickringd's log: one line per event on stderr, plain or JSON.
 *
 * Plain: `tickringd: <level>: <message>`. JSON (log-json yes): one object per
 * line, {"ts":<ns>,"level":"info","msg":"..."}, for log shippers.
 */
#ifndef TR_LOG_H
#define TR_LOG_H

enum tr_log_level { TR_LOG_ERROR = 0, TR_LOG_WARN = 1, TR_LOG_INFO = 2, TR_LOG_DEBUG = 3 };

/* Set the format and the most verbose level printed. */
void tr_log_setup(int json, int level);

void tr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
