/*
 * registry.c - the analysers, in the order they run.
 *
 * Structural analysers first (headers, rules), then the specialised ones
 * (attachments before the invoice analyser, which reads archive members
 * too); each only adds symbols.
 */
#include <stddef.h>

#include "engine/engine.h"
#include "scan/attach.h"
#include "scan/bayes.h"
#include "scan/header.h"
#include "scan/invoice.h"
#include "scan/rules.h"
#include "scan/url.h"

const pg_analyser *const pg_analysers[] = {
	&pg_analyser_header, &pg_analyser_rules,   &pg_analyser_url,
	&pg_analyser_attach, &pg_analyser_invoice, &pg_analyser_bayes,
};
const size_t pg_nanalysers = sizeof(pg_analysers) / sizeof(pg_analysers[0]);
