/*
 * cmd_convert.c — `ponder convert --fp8 SRC DST`: a BF16/F16/F32 Hugging Face checkpoint
 * re-written with FP8 e4m3 matrices in DeepSeek's layout (engine/convert_fp8.h says
 * which tensors and what the output holds).
 *
 * Shows a progress bar on standard error when that is a terminal (tensors, bytes,
 * percent; redrawn at most ten times a second and erased at the end), and prints one
 * summary line on standard output always. SIGINT, SIGTERM and SIGHUP (SIGHUP unless
 * ignored from the start, as under nohup) ask the conversion to stop at the next chunk; it then
 * removes what it wrote and the exit status is 128 + the signal. The handler resets
 * itself, so a second signal ends the process at once (whatever was written then stays,
 * without a config.json: it never looks like a checkpoint). SIGXFSZ is ignored so that a
 * file-size limit fails a write like a full disk, with the same clean-up.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/commands.h"
#include "app/options.h"
#include "app/signals.h"
#include "common/bytes.h"
#include "engine/convert_fp8.h"

static const char usage_text[] =
	"usage: ponder convert --fp8 [--head bf16|fp8] [-t N] [--shard-size SIZE] SRC DST\n"
	"  Writes the Hugging Face checkpoint in SRC (BF16, F16 or F32) to DST with its\n"
	"  projection matrices in FP8 e4m3 with 128x128 block scales, as DeepSeek ships\n"
	"  its weights; embeddings, norms, biases, the router and the output head stay as\n"
	"  they are. DST must be new or empty; a conversion that fails removes its output.\n"
	"  --fp8              the output format (the only one so far; required)\n"
	"  --head fp8         quantise lm_head.weight too (default bf16: as stored)\n"
	"  -t, --threads N    quantisation threads (default: one per core)\n"
	"  --shard-size SIZE  largest output shard (default 4G; K, M, G suffixes)\n";

static const struct option convert_opts[] = {
	{"fp8", no_argument, NULL, 'f'}, {"head", required_argument, NULL, 'H'},
	{"threads", required_argument, NULL, 't'}, {"shard-size", required_argument, NULL, 'S'},
	{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
};

struct convert_args {
	bool fp8;
	struct eng_convert_opts o;
};

/* 1 for --help (usage printed), 0 parsed, or ERR_USAGE naming the problem. */
static int parse_args(int argc, char **argv, struct convert_args *a, struct err *e)
{
	memset(a, 0, sizeof *a);
	optind = 0; /* GNU: full re-initialisation */
	opterr = 0;
	long long n;
	uint64_t size;
	int ch, rc = 0;
	while (!rc && (ch = getopt_long(argc, argv, ":t:h", convert_opts, NULL)) != -1) {
		switch (ch) {
		case 'f': a->fp8 = true; break;
		case 'H':
			if (!strcmp(optarg, "fp8"))
				a->o.head_fp8 = true;
			else if (!strcmp(optarg, "bf16"))
				a->o.head_fp8 = false;
			else
				rc = err_set(e, ERR_USAGE, "--head '%s': use fp8 (quantise lm_head.weight "
					     "too) or bf16 (keep the head as stored, the default)",
					     optarg);
			break;
		case 't':
			rc = app_parse_int("threads", optarg, 1, 4096, &n, e);
			a->o.threads = (int)n;
			break;
		case 'S':
			rc = app_parse_size("shard-size", optarg, &size, e);
			if (!rc && size < 1024)
				rc = err_set(e, ERR_USAGE, "--shard-size %s: at least 1K", optarg);
			a->o.shard_bytes = size;
			break;
		case 'h': fputs(usage_text, stdout); return 1;
		case ':':
			for (const struct option *p = convert_opts; p->name; p++)
				if (p->val == optopt)
					return err_set(e, ERR_USAGE, "--%s needs a value; see ponder "
						       "convert --help", p->name);
			return err_set(e, ERR_USAGE, "-%c needs a value", optopt);
		default:
			return err_set(e, ERR_USAGE, "unknown option %s; see ponder convert --help",
				       argv[optind - 1]);
		}
	}
	if (rc)
		return rc;
	if (argc - optind != 2)
		return err_set(e, ERR_USAGE, "%s; usage: ponder convert --fp8 SRC DST",
			       argc - optind < 2 ? "name the source checkpoint folder and a new "
						   "output folder"
						 : "more than two folders given");
	if (!a->fp8)
		return err_set(e, ERR_USAGE, "say which format to convert to: --fp8 (FP8 e4m3 with "
			       "128x128 block scales, the only one so far)");
	a->o.src = argv[optind];
	a->o.dst = argv[optind + 1];
	return 0;
}

/* ---- signals -------------------------------------------------------------------- */

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction saved[3], saved_xfsz;

static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++) {
		sigaction(stop_signals[i], NULL, &saved[i]);
		if (stop_signals[i] != SIGHUP || saved[i].sa_handler != SIG_IGN)
			sigaction(stop_signals[i], &sa, NULL); /* nohup's SIGHUP stays ignored */
	}
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigemptyset(&ign.sa_mask);
	sigaction(SIGXFSZ, &ign, &saved_xfsz);
}

static void restore_signals(void)
{
	for (int i = 0; i < 3; i++)
		sigaction(stop_signals[i], &saved[i], NULL);
	sigaction(SIGXFSZ, &saved_xfsz, NULL);
}

/* ---- progress ------------------------------------------------------------------- */

struct bar {
	bool on;       /* stderr is a terminal */
	bool drawn;
	double last;   /* when last drawn */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One line, under 80 columns: [#####.....]  45%  123/456 tensors  1.2 GiB of 2.7 GiB */
static void draw(void *ud, const struct eng_convert_progress *p)
{
	struct bar *b = ud;
	double t = now_s();
	bool last = p->tensors_done == p->tensors;
	if (!b->on || (!last && b->drawn && t - b->last < 0.1))
		return;
	b->last = t;
	b->drawn = true;
	double f = p->bytes ? (double)p->bytes_done / (double)p->bytes : 1.0;
	char bar[21], done[32], all[32];
	int fill = (int)(f * 20 + 0.5);
	for (int i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = 0;
	fmt_bytes(done, sizeof done, p->bytes_done);
	fmt_bytes(all, sizeof all, p->bytes);
	fprintf(stderr, "\r[%s] %3d%%  %zu/%zu tensors  %s of %s\033[K", bar, (int)(f * 100),
		p->tensors_done, p->tensors, done, all);
	fflush(stderr);
}

static void erase(struct bar *b)
{
	if (b->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

/* ---- the command ---------------------------------------------------------------- */

int app_cmd_convert(int argc, char **argv, struct err *e)
{
	struct convert_args a;
	int rc = parse_args(argc, argv, &a, e);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct bar b = {.on = isatty(STDERR_FILENO)};
	a.o.stop = &stop_sig;
	a.o.progress = draw;
	a.o.ud = &b;
	struct eng_convert_stats st;
	double t0 = now_s();
	stop_sig = 0;
	catch_signals();
	rc = eng_convert_fp8(&a.o, &st, e);
	restore_signals();
	erase(&b);
	if (rc == ERR_INTERRUPTED && stop_sig)
		app_signals_note(stop_sig);
	if (rc)
		return rc;
	if (a.o.head_fp8 && st.head_tied)
		fprintf(stderr, "ponder convert: note: %s has no lm_head.weight (its output head is "
			"tied to the embeddings), so --head fp8 had no head to quantise; the "
			"embeddings stay as stored\n", a.o.src);
	char in[32], out[32];
	fmt_bytes(in, sizeof in, st.bytes_in);
	fmt_bytes(out, sizeof out, st.bytes_out);
	printf("%s: %zu of %zu tensors quantised to FP8 e4m3%s", a.o.dst, st.quantised, st.tensors,
	       st.head_quantised ? " (output head included)" : "");
	if (st.fp8_kept)
		printf(", %zu FP8 already", st.fp8_kept);
	printf(", %s -> %s in %zu shard%s, %.2f s\n", in, out, st.shards, st.shards == 1 ? "" : "s",
	       now_s() - t0);
	return 0;
}
