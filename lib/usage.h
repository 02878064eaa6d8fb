#ifndef SNAP_USAGE_H
#define SNAP_USAGE_H

/*
 * Helpers for cmd/ only: the program name, the exit statuses every command
 * shares, and the calls that end a command.  lib/ modules never exit; they
 * return SNAP_E* codes and cmd/ turns them into these.
 *
 *   0    success
 *   1    the answer is "no" (cat-file -e of an absent object, ...)
 *   3    done but incomplete (a restore that could not set some metadata)
 *   128  fatal error: "snap-<cmd>: fatal: <message>" on stderr
 *   129  usage error: "snap-<cmd>: error: <message>" and the usage
 */

#include "strbuf.h"
#include "util.h"

#define EXIT_NO 1
#define EXIT_INCOMPLETE 3
#define EXIT_FATAL 128
#define EXIT_USAGE 129

/*
 * Sets the program name used in messages: the basename of argv0, or
 * $SNAP_PROGRAM when it is "snap-" and letters, digits and '-'.  Porcelain
 * exports SNAP_PROGRAM=snap-log (say) while it runs plumbing, so that every
 * message names the command the user ran; it unsets it for the user's own
 * commands (--from-command).
 */
void usage_setup(const char *argv0);

_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * As die(), for an answer of no (a ref moved, a lease held): "fatal:"
 * too, but exit status EXIT_NO, after flushing stdout.
 */
_Noreturn void die_refused(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Dies with the message a lib/ call left in err. */
_Noreturn void die_err(const struct strbuf *err);
/*
 * Prints "error: <msg>" and the usage text on stderr; exits 129.  Run by
 * porcelain under a borrowed name ($SNAP_PROGRAM), it prints the error line
 * alone: the plumbing's usage is not the command the user typed.
 */
_Noreturn void usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints the usage text on stdout and exits 0 (for --help). */
_Noreturn void usage_help(const char *usage);
/* Prints "snap-<cmd>: warning: <msg>" on stderr. */
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Prints "snap-<cmd>: error: <msg>" on stderr and returns: for a failure a
 * command reports and outlives (snap-mount's read of a corrupt object).
 */
void error_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A warning callback for lib/ walks: prints msg with warning() unless the
 * int that data points at (a --quiet flag) is set.
 */
void warning_cb(const char *msg, void *data);

/*
 * Flushes stdout and checks that every write to it succeeded; returns the
 * exit status to use (status, or 128 after a write error such as EPIPE
 * or ENOSPC).  Every command returns through it.
 */
int finish_stdout(int status);
/*
 * finish_stdout() for a command that has changed something by now: the
 * message says what ("the push is done (refs moved on the remote)"), so
 * a caller whose output was lost knows it is not to be run again blindly.
 */
int finish_stdout_done(int status, const char *done);

/* Writes to stdout or dies (a closed pipe, a full disk). */
void xfwrite(const void *buf, size_t len);

struct snap_store;
struct odb;
/*
 * Opens the store named by --store (dir, may be NULL), $SNAP_DIR or .snap
 * above the working directory, and its object database; dies without one.
 * Each damaged file the object database works around (odb_damaged) is
 * one warning line, unless $SNAP_DAMAGE_SEEN is set: porcelain sets it
 * after its first plumbing call, so a restore says it once.
 */
void open_store_or_die(const char *dir, struct snap_store *store,
		       struct odb **odb);

#endif
