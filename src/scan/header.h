/*
 * header.h - the header analyser: checks of the content's header fields
 * that regular expressions do badly.
 *
 *   HDR_DISPLAY_SPOOF        the From display name names a protected brand or
 *                            domain that the From address does not belong to
 *   HDR_FROM_NAME_ADDR       the display name holds an address of another
 *                            domain than the sender's
 *   HDR_REPLYTO_DIVERGES     Reply-To in another registrable domain than From
 *                            (scaled down for mailing lists)
 *   HDR_FAKE_PEC_UNSIGNED    PEC markers without any signature
 *   HDR_FAKE_PEC_BAD_SIGNATURE  PEC markers, signature fails a check
 *   HDR_FAKE_PEC             PEC markers, signed, another check fails
 *   HDR_PEC_LIST_WRAPPED     a genuine envelope re-sent by a mailing list
 *   HDR_DATE_MISSING / HDR_DATE_INVALID / HDR_DATE_FUTURE (after the
 *                            topmost Received) / HDR_DATE_BAD_ZONE
 *   HDR_MSGID_MISSING / HDR_MSGID_INVALID
 *
 * Settings live in the "header" group (etc/pecguard.d/header.conf),
 * weights in "symbols"; docs/analysers/header.md tells the details.
 */
#ifndef PG_SCAN_HEADER_H
#define PG_SCAN_HEADER_H

#include "scan/analyser.h"

extern const pg_analyser pg_analyser_header;

#endif
