/*
 * input.h - messages from files, directories, Maildirs, mboxes and stdin.
 */
#ifndef PG_CLI_INPUT_H
#define PG_CLI_INPUT_H

#include <stddef.h>

/* Called once per message.  data is valid only during the call.  mbox_index
 * is the 1-based position in an mbox, 0 otherwise.  err is non-NULL (and
 * data NULL) when the message could not be read.  Return non-zero to stop. */
typedef int (*pg_input_fn)(void *ctx, const char *path, size_t mbox_index, const char *data,
			   size_t len, const char *err);

/* Walks PATH: "-" (standard input), a regular file (an mbox when it starts
 * with a "From " line: each message without its From_ line and the blank
 * line after it), a Maildir (cur/ and new/), or a directory (every file
 * below it, in name order; hidden entries skipped; symbolic links
 * followed, except back to a directory being read: an error, a loop).
 * max is the size limit of one message: standard input longer than that
 * is read only somewhat past max (enough to tell), files are mapped whole.
 * Returns 0, or non-zero if fn asked to stop. */
int pg_input_walk(const char *path, size_t max, pg_input_fn fn, void *ctx);

#endif
