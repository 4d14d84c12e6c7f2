/*
 * av_clamav.c - the in-process backend: libclamav linked into pecguard.
 *
 * A compiled cl_engine is large (the official database takes hundreds of
 * MiB and tens of seconds to compile) and read-only once compiled, so one
 * engine serves every thread.  pg_av_reload() builds a complete new engine
 * beside the current one and swaps the pointer; each scan holds a reference
 * on the engine it started with, and the last reference frees it.  A scan
 * never waits for a reload, and a reload never waits for scans.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <clamav.h>

#include "scan/av_internal.h"

/* libclamav refuses files of 2 GiB and more (it warns and clamps); say so
 * at configuration time instead. */
#define CLAMAV_MAX_FILE_SIZE_CAP ((uint64_t)INT32_MAX)
/* MaxScanSize is a 64-bit byte count; anything beyond 4 GiB - 1 is a typo,
 * and would let one message tie up a scanner thread for minutes. */
#define CLAMAV_MAX_SCAN_SIZE_CAP ((uint64_t)UINT32_MAX)

/* The one process-wide state of the module: cl_init() must run once per
 * process before any engine is made (it initialises libclamav's crypto and
 * its tables), and running it twice is not supported. */
static pthread_once_t clamav_once = PTHREAD_ONCE_INIT;
static cl_error_t clamav_init_status = CL_SUCCESS;

static void clamav_init_once(void)
{
	clamav_init_status = cl_init(CL_INIT_DEFAULT);
}

/* A compiled engine and the scans using it. */
typedef struct clamav_engine {
	struct cl_engine *cl;
	atomic_uint refs;    /* one for being current + one per running scan */
	unsigned signatures; /* what cl_load() counted */
} clamav_engine;

typedef struct clamav_av {
	pthread_mutex_t lock; /* guards cur (held only to swap or take a reference) */
	pthread_mutex_t
		reload_lock; /* one reload at a time: two compiles at once only double the memory */
	clamav_engine *cur;  /* never NULL while open */
	char *db_dir;
	pg_av_limits lim;
	struct cl_scan_options opts;
} clamav_av;

static void engine_release(clamav_engine *e)
{
	if (e == NULL)
		return;
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
		cl_engine_free(e->cl);
		free(e);
	}
}

/* The current engine with a reference taken.  The lock makes "read the
 * pointer, take a reference" atomic against a swap that drops the last
 * reference between the two. */
static clamav_engine *engine_acquire(clamav_av *av)
{
	pthread_mutex_lock(&av->lock);
	clamav_engine *e = av->cur;
	atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&av->lock);
	return e;
}

/* Does dir hold at least one entry that is not hidden?  cl_load() on an
 * empty directory fails with "Can't open file or directory", which sends
 * people looking for a permission problem. */
static int dir_has_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d)) != NULL)
		found = de->d_name[0] != '.';
	closedir(d);
	return found;
}

/* Sets one engine field; on failure names it in err. */
static pg_status engine_set(struct cl_engine *cl, enum cl_engine_field field, const char *what,
			    long long value, char *err, size_t errlen)
{
	cl_error_t ret = cl_engine_set_num(cl, field, value);
	if (ret != CL_SUCCESS) {
		pg_av_errf(err, errlen, "clamav: cannot set %s to %lld: %s", what, value,
			   cl_strerror(ret));
		return PG_ERR_CONFIG;
	}
	return PG_OK;
}

/* Every limit is set explicitly, never left to the library's defaults, so
 * that an upgrade of libclamav cannot silently change what is scanned. */
static pg_status engine_set_limits(struct cl_engine *cl, const pg_av_limits *lim, char *err,
				   size_t errlen)
{
	const struct {
		enum cl_engine_field field;
		const char *what;
		long long value;
	} set[] = {
		/* The caller's limits (pg_av_limits; defaults in av.h). With
		 * CL_SCAN_HEURISTIC_EXCEEDS_MAX hitting any of these four
		 * is reported, and becomes PG_AV_ERROR. */
		{CL_ENGINE_MAX_SCANSIZE, "max scan size", (long long)lim->max_scan_size},
		{CL_ENGINE_MAX_FILESIZE, "max file size", (long long)lim->max_file_size},
		{CL_ENGINE_MAX_RECURSION, "max recursion", (long long)lim->max_recursion},
		{CL_ENGINE_MAX_FILES, "max files", (long long)lim->max_files},
		/* Wall-clock cap on one scan: 60 s, half of clamd's default
		 * (MaxScanTime 120000).  A mail filter must answer within the
		 * MTA's milter timeout (Postfix milter_content_timeout is
		 * 300 s) and a message may take several scans.  Hitting it is
		 * CL_ETIMEOUT or Heuristics.Limits.Exceeded.MaxScanTime: an
		 * error either way. */
		{CL_ENGINE_MAX_SCANTIME, "max scan time", 60000},
		/* The sizes below bound extra analyses of one object (its raw
		 * bytes are always matched); values are clamd's defaults
		 * (clamd.conf(5)), which the official signatures are tuned
		 * for. */
		/* Largest file searched for PEs embedded in it: 40 MiB. */
		{CL_ENGINE_MAX_EMBEDDEDPE, "max embedded PE", 40LL << 20},
		/* Largest HTML file normalised (entity/script decoding): 40 MiB. */
		{CL_ENGINE_MAX_HTMLNORMALIZE, "max HTML normalize", 40LL << 20},
		/* Largest normalised HTML scanned again as tag-less text: 8 MiB. */
		{CL_ENGINE_MAX_HTMLNOTAGS, "max HTML no tags", 8LL << 20},
		/* Largest script normalised (JS/VBS): 20 MiB. */
		{CL_ENGINE_MAX_SCRIPTNORMALIZE, "max script normalize", 20LL << 20},
		/* Largest zip whose members are type-recognised again: 1 MiB. */
		{CL_ENGINE_MAX_ZIPTYPERCG, "max zip type recognition", 1LL << 20},
		/* Partitions of a disk image scanned: 50. */
		{CL_ENGINE_MAX_PARTITIONS, "max partitions", 50},
		/* Icons of one PE compared with icon signatures: 100. */
		{CL_ENGINE_MAX_ICONSPE, "max PE icons", 100},
		/* Recursion of the HWP3 (Hangul) parser: 16. */
		{CL_ENGINE_MAX_RECHWP3, "max HWP3 recursion", 16},
		/* PCRE sub-signatures: calls to the matcher (100000) and its
		 * recursion (2000) per match, clamd's defaults, so that a
		 * crafted input cannot make a regex run for minutes... */
		{CL_ENGINE_PCRE_MATCH_LIMIT, "PCRE match limit", 100000},
		{CL_ENGINE_PCRE_RECMATCH_LIMIT, "PCRE recursion limit", 2000},
		/* ...and no file that we scan at all skips them: the same cap
		 * as max_file_size. */
		{CL_ENGINE_PCRE_MAX_FILESIZE, "PCRE max file size", (long long)lim->max_file_size},
		/* Bytecode signatures only when signed by Talos (the default,
		 * said explicitly), each run capped at 10 s (clamd's
		 * BytecodeTimeout default; libclamav's own is 60 s). */
		{CL_ENGINE_BYTECODE_SECURITY, "bytecode security", CL_BYTECODE_TRUST_SIGNED},
		{CL_ENGINE_BYTECODE_TIMEOUT, "bytecode timeout", 10000},
	};
	for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
		pg_status st = engine_set(cl, set[i].field, set[i].what, set[i].value, err, errlen);
		if (st != PG_OK)
			return st;
	}
	return PG_OK;
}

/* ---- content that a limit cut without saying so ---------------------------
 *
 * libclamav reports most limits it hits as Heuristics.Limits.Exceeded.*
 * (with CL_SCAN_HEURISTIC_EXCEEDS_MAX), but its zip extractor (1.4) cuts a
 * member larger than MaxFileSize down to MaxFileSize and scans the rest as
 * if it were the whole file: a signature past the cut is missed and the
 * verdict is clean (seen with an EICAR past 8 KiB in a member and
 * MaxFileSize 4 KiB, and past 55 MiB with the default 50 MiB).  Two
 * callbacks close that hole:
 *   - the archive metadata callback sees each member's declared size;
 *   - the file inspection callback sees the size of every extracted layer:
 *     a backstop for any extractor that cuts a layer at MaxFileSize with
 *     no declared size to check first (a layer at or over MaxFileSize has
 *     been cut, or is about to be skipped).
 * Either one stops the scan with a detection ("Detected.By.Callback", or
 * "Detected.By.Callback.Inspection") that the scan context turns into a
 * limits error.  Stopping, rather than noting and going on, matters: a
 * scan that ends clean is put in libclamav's clean cache, and the next
 * scan of the same bytes would be answered "clean" from the cache without
 * calling us. */
typedef struct clamav_scan_ctx {
	uint64_t max_file_size;
	int cut;          /* a callback stopped the scan */
	char detail[160]; /* which object, how big */
} clamav_scan_ctx;

static cl_error_t clamav_cb_meta(const char *container_type, unsigned long fsize_container,
				 const char *filename, unsigned long fsize_real, int is_encrypted,
				 unsigned int filepos_container, void *context)
{
	(void)fsize_container;
	(void)is_encrypted;
	(void)filepos_container;
	clamav_scan_ctx *sc = context;
	if (sc == NULL || (uint64_t)fsize_real <= sc->max_file_size)
		return CL_CLEAN;
	sc->cut = 1;
	snprintf(sc->detail, sizeof sc->detail, "%s member %s: %lu bytes",
		 container_type != NULL ? container_type : "archive",
		 filename != NULL ? filename : "(unnamed)", fsize_real);
	return CL_VIRUS;
}

static cl_error_t clamav_cb_inspect(int fd, const char *type, const char **ancestors,
				    size_t parent_file_size, const char *file_name,
				    size_t file_size, const char *file_buffer,
				    uint32_t recursion_level, uint32_t layer_attributes,
				    void *context)
{
	(void)fd;
	(void)ancestors;
	(void)parent_file_size;
	(void)file_buffer;
	(void)layer_attributes;
	clamav_scan_ctx *sc = context;
	/* Level 0 is the object we were given: libclamav itself reports it
	 * when it is over MaxFileSize. */
	if (sc == NULL || recursion_level == 0 || (uint64_t)file_size < sc->max_file_size)
		return CL_CLEAN;
	sc->cut = 1;
	snprintf(sc->detail, sizeof sc->detail, "%s %s at depth %u: %zu bytes",
		 type != NULL ? type : "object", file_name != NULL ? file_name : "(unnamed)",
		 (unsigned)recursion_level, file_size);
	return CL_VIRUS;
}

/* Loads and compiles a new engine from dir.  On success *out holds one
 * reference (the caller's). */
static pg_status engine_build(const char *dir, const pg_av_limits *lim, clamav_engine **out,
			      char *err, size_t errlen)
{
	*out = NULL;
	struct stat sb;
	if (stat(dir, &sb) != 0) {
		pg_av_errf(err, errlen, "clamav: signature directory %s: %s", dir, strerror(errno));
		return PG_ERR_CONFIG;
	}
	if (!S_ISDIR(sb.st_mode)) {
		pg_av_errf(err, errlen, "clamav: signature directory %s: not a directory", dir);
		return PG_ERR_CONFIG;
	}
	int has = dir_has_files(dir);
	if (has < 0) {
		pg_av_errf(err, errlen, "clamav: signature directory %s: %s", dir, strerror(errno));
		return PG_ERR_CONFIG;
	}
	if (has == 0) {
		pg_av_errf(err, errlen,
			   "clamav: signature directory %s is empty: no database loaded, "
			   "the antivirus cannot answer",
			   dir);
		return PG_ERR_CONFIG;
	}

	clamav_engine *e = calloc(1, sizeof *e);
	if (e == NULL || (e->cl = cl_engine_new()) == NULL) {
		free(e);
		pg_av_errf(err, errlen, "clamav: out of memory");
		return PG_ERR_NOMEM;
	}
	atomic_init(&e->refs, 1);

	pg_status st = engine_set_limits(e->cl, lim, err, errlen);
	if (st != PG_OK)
		goto fail;
	/* Extracted attachments and archive members go to temporary files:
	 * a private directory keeps hostile content away from others. */
	if (lim->tmp_dir[0] != '\0') {
		cl_error_t tr = cl_engine_set_str(e->cl, CL_ENGINE_TMPDIR, lim->tmp_dir);
		if (tr != CL_SUCCESS) {
			pg_av_errf(err, errlen, "clamav: temporary directory %s: %s", lim->tmp_dir,
				   cl_strerror(tr));
			st = PG_ERR_CONFIG;
			goto fail;
		}
	}

	unsigned signo = 0;
	/* CL_DB_STDOPT (the signatures and signed bytecode, as clamd loads
	 * them; PUA detections off) without the phishing databases (.pdb,
	 * .wdb): with the heuristics on, which the limits alerts need, they
	 * would report a link whose text names another site as a "virus"
	 * (Heuristics.Phishing.Email.*) and so stop PEC envelopes.  Links
	 * are the URL analyser's. */
	cl_error_t ret = cl_load(dir, e->cl, &signo,
				 CL_DB_STDOPT & ~(unsigned)(CL_DB_PHISHING | CL_DB_PHISHING_URLS));
	if (ret != CL_SUCCESS) {
		pg_av_errf(err, errlen, "clamav: cannot load signatures from %s: %s%s", dir,
			   cl_strerror(ret),
			   ret == CL_EOPEN ? " (no supported database files there?)" : "");
		st = ret == CL_EMEM ? PG_ERR_NOMEM : PG_ERR_CONFIG;
		goto fail;
	}
	if (signo == 0) {
		pg_av_errf(err, errlen,
			   "clamav: no signatures loaded from %s: the antivirus cannot answer",
			   dir);
		st = PG_ERR_CONFIG;
		goto fail;
	}
	/* Callbacks are engine settings: set before compiling, never on an
	 * engine in use. */
	cl_engine_set_clcb_meta(e->cl, clamav_cb_meta);
	cl_engine_set_clcb_file_inspection(e->cl, clamav_cb_inspect);
	ret = cl_engine_compile(e->cl);
	if (ret != CL_SUCCESS) {
		pg_av_errf(err, errlen, "clamav: cannot compile the signatures of %s: %s", dir,
			   cl_strerror(ret));
		st = ret == CL_EMEM ? PG_ERR_NOMEM : PG_ERR_CONFIG;
		goto fail;
	}
	e->signatures = signo;
	*out = e;
	return PG_OK;
fail:
	cl_engine_free(e->cl);
	free(e);
	return st;
}

static pg_status clamav_scan(void *impl, const void *data, size_t len, const char *name,
			     pg_av_result *out)
{
	clamav_av *av = impl;
	/* libclamav does not look at an object over MaxFileSize at all (and
	 * through cl_scanmap_callback reports it as a detection without a
	 * name): say what happened without the round trip. */
	if ((uint64_t)len > av->lim.max_file_size) {
		pg_av_result_error(
			out,
			"limits exceeded: content not fully scanned: " PG_AV_LIMITS_PREFIX
			".MaxFileSize (%zu bytes, limit %llu)",
			len, (unsigned long long)av->lim.max_file_size);
		return PG_OK;
	}
	cl_fmap_t *map = cl_fmap_open_memory(data, len);
	if (map == NULL) {
		pg_av_result_error(out, "clamav: out of memory");
		return PG_ERR_NOMEM;
	}
	clamav_engine *e = engine_acquire(av);
	const char *virname = NULL;
	unsigned long scanned = 0;
	/* libclamav takes the options by non-const pointer: give it a copy,
	 * the shared one is read by other threads. */
	struct cl_scan_options opts = av->opts;
	clamav_scan_ctx sc = {.max_file_size = av->lim.max_file_size};
	cl_error_t ret = cl_scanmap_callback(map, name, &virname, &scanned, e->cl, &opts, &sc);
	switch (ret) {
	case CL_CLEAN:
		pg_av_result_clean(out);
		break;
	case CL_VIRUS:
		if (sc.cut && virname != NULL &&
		    strncmp(virname, "Detected.By.Callback", 20) == 0) {
			pg_av_result_error(
				out,
				"limits exceeded: content not fully scanned: " PG_AV_LIMITS_PREFIX
				".MaxFileSize (%s)",
				sc.detail);
			break;
		}
		/* virname points into the engine: copy it before the engine
		 * may go away with our reference. */
		pg_av_result_found(out, virname);
		break;
	default:
		/* Includes CL_EMEM: libclamav also reports it when hostile
		 * input asks for an absurd allocation, so it is a verdict
		 * ("could not scan"), not a process out of memory. */
		pg_av_result_error(out, "clamav: %s", cl_strerror(ret));
		break;
	}
	engine_release(e);
	cl_fmap_close(map);
	return PG_OK;
}

static pg_status clamav_reload(void *impl, char *err, size_t errlen)
{
	clamav_av *av = impl;
	pthread_mutex_lock(&av->reload_lock);
	clamav_engine *e = NULL;
	pg_status st = engine_build(av->db_dir, &av->lim, &e, err, errlen);
	if (st == PG_OK) {
		pthread_mutex_lock(&av->lock);
		clamav_engine *old = av->cur;
		av->cur = e;
		pthread_mutex_unlock(&av->lock);
		/* Scans still running on old hold their own references: the
		 * engine is freed by whichever of us finishes last. */
		engine_release(old);
	}
	pthread_mutex_unlock(&av->reload_lock);
	return st;
}

static unsigned clamav_signatures(const void *impl)
{
	clamav_av *av = (clamav_av *)impl;
	pthread_mutex_lock(&av->lock);
	unsigned n = av->cur->signatures;
	pthread_mutex_unlock(&av->lock);
	return n;
}

static void clamav_free(void *impl)
{
	clamav_av *av = impl;
	engine_release(av->cur);
	pthread_mutex_destroy(&av->lock);
	pthread_mutex_destroy(&av->reload_lock);
	free(av->db_dir);
	free(av);
}

static const pg_av_ops clamav_ops = {
	.scan = clamav_scan,
	.reload = clamav_reload,
	.signatures = clamav_signatures,
	.free = clamav_free,
};

/* What is looked at, said explicitly rather than inherited. */
static void scan_options_init(struct cl_scan_options *o)
{
	memset(o, 0, sizeof *o);
	/* Heuristics on (needed for the limits alerts below); no all-match
	 * mode: the first detection ends the scan.  No heuristic
	 * precedence either: a limits alert is held back until the end of
	 * the scan, so a real signature found later still wins over it. */
	o->general = CL_SCAN_GENERAL_HEURISTICS;
	/* Every parser: mail is where malware hides in archives, office
	 * documents, PDFs and HTML. */
	o->parse = CL_SCAN_PARSE_ARCHIVE | CL_SCAN_PARSE_ELF | CL_SCAN_PARSE_PDF |
		   CL_SCAN_PARSE_SWF | CL_SCAN_PARSE_HWP3 | CL_SCAN_PARSE_XMLDOCS |
		   CL_SCAN_PARSE_MAIL | CL_SCAN_PARSE_OLE2 | CL_SCAN_PARSE_HTML | CL_SCAN_PARSE_PE |
		   CL_SCAN_PARSE_ONENOTE | CL_SCAN_PARSE_IMAGE | CL_SCAN_PARSE_IMAGE_FUZZY_HASH;
	/* Only "a limit left content unscanned" (Heuristics.Limits.
	 * Exceeded.*, mapped to an error).  The other heuristics (broken
	 * executables, encrypted archives, macros, ...) stay off, as in
	 * clamd's defaults, and the phishing databases are not loaded (see
	 * engine_build): were one to alert anyway, pg_av_result_found() makes
	 * it a threat indicator, not a virus. */
	o->heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	o->mail = 0; /* no reassembly of message/partial */
	o->dev = 0;
}

pg_status pg_av_clamav_open(const char *db_dir, const pg_av_limits *lim, const pg_av_ops **ops,
			    void **impl, char *err, size_t errlen)
{
	*ops = &clamav_ops;
	*impl = NULL;
	if (lim->max_file_size > CLAMAV_MAX_FILE_SIZE_CAP) {
		pg_av_errf(err, errlen,
			   "clamav: max file size %llu over what libclamav supports (%llu)",
			   (unsigned long long)lim->max_file_size,
			   (unsigned long long)CLAMAV_MAX_FILE_SIZE_CAP);
		return PG_ERR_CONFIG;
	}
	if (lim->max_scan_size > CLAMAV_MAX_SCAN_SIZE_CAP) {
		pg_av_errf(err, errlen, "clamav: max scan size %llu over %llu",
			   (unsigned long long)lim->max_scan_size,
			   (unsigned long long)CLAMAV_MAX_SCAN_SIZE_CAP);
		return PG_ERR_CONFIG;
	}

	pthread_once(&clamav_once, clamav_init_once);
	if (clamav_init_status != CL_SUCCESS) {
		pg_av_errf(err, errlen, "clamav: cl_init: %s", cl_strerror(clamav_init_status));
		return PG_ERR_CONFIG;
	}

	clamav_av *av = calloc(1, sizeof *av);
	if (av == NULL || (av->db_dir = strdup(db_dir)) == NULL) {
		free(av);
		pg_av_errf(err, errlen, "clamav: out of memory");
		return PG_ERR_NOMEM;
	}
	av->lim = *lim;
	scan_options_init(&av->opts);
	pg_status st = engine_build(db_dir, lim, &av->cur, err, errlen);
	if (st != PG_OK) {
		free(av->db_dir);
		free(av);
		return st;
	}
	pthread_mutex_init(&av->lock, NULL);
	pthread_mutex_init(&av->reload_lock, NULL);
	*impl = av;
	return PG_OK;
}
