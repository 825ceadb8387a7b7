/*
 * cmd_kv.c — `ponder kv ls|rm|gc`: the KV snapshots that resume conversations
 * (engine/kv_store.h; docs/kv-snapshots.md).
 *
 *   ponder kv ls [--json]            every snapshot, most recently used first
 *   ponder kv rm ID                  one snapshot (4+ leading hex digits of its id)
 *   ponder kv gc [--kv-cache-max SIZE]
 *                                    damaged files, unfinished writes, then the least
 *                                    recently used beyond the cap (default: the chat's)
 *
 * The folder is $XDG_CACHE_HOME/ponder/kv. Nothing here needs a model.
 */
#include "app/commands.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/ago.h"
#include "app/options.h"
#include "app/paths.h"
#include "common/bytes.h"
#include "engine/kv_store.h"

static const char usage_text[] =
	"usage: ponder kv ls [--json]                 list KV snapshots\n"
	"       ponder kv rm ID                       remove one (ID: 4+ hex digits)\n"
	"       ponder kv gc [--kv-cache-max SIZE]    remove damaged, unfinished and least\n"
	"                                             recently used ones beyond SIZE (4G)\n"
	"The folder is $XDG_CACHE_HOME/ponder/kv (~/.cache/ponder/kv).\n";

static int list(const char *dir, bool json, struct err *e)
{
	struct kv_entry *all;
	size_t n;
	int rc = kv_dir_list(dir, &all, &n, e);
	if (rc)
		return rc;
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			const struct kv_entry *k = &all[i];
			json_t *o = json_pack("{s:s, s:b, s:I, s:I}", "id", k->id, "valid", k->valid,
					      "bytes", (json_int_t)k->bytes, "used",
					      (json_int_t)k->mtime);
			if (k->valid)
				json_object_update_new(o, json_pack("{s:s, s:s, s:s, s:I}", "model",
					k->model_name, "label", k->label, "kv_type", k->kv_type,
					"tokens", (json_int_t)k->tokens));
			else
				json_object_set_new(o, "problem", json_string(k->problem));
			json_array_append_new(arr, o);
		}
		rc = json_dumpf(arr, stdout, JSON_INDENT(2)) || fputc('\n', stdout) == EOF;
		json_decref(arr);
	} else if (!n) {
		printf("no KV snapshots in %s\n", dir);
	} else {
		uint64_t total = 0;
		printf("%-16s  %-20s  %-18s  %6s  %-4s  %9s  %s\n", "ID", "MODEL", "CONVERSATION",
		       "TOKENS", "KV", "SIZE", "USED");
		for (size_t i = 0; i < n; i++) {
			const struct kv_entry *k = &all[i];
			char size[32], used[32];
			fmt_bytes(size, sizeof size, k->bytes);
			app_fmt_ago(k->mtime * 1000, used, sizeof used);
			total += k->bytes;
			if (k->valid)
				printf("%-16s  %-20.20s  %-18.18s  %6llu  %-4s  %9s  %s\n", k->id,
				       k->model_name, k->label[0] ? k->label : "-",
				       (unsigned long long)k->tokens, k->kv_type, size, used);
			else
				printf("%-16s  damaged: %s (%s; `ponder kv gc` removes it)\n", k->id,
				       k->problem, size);
		}
		char size[32];
		fmt_bytes(size, sizeof size, total);
		printf("%zu snapshot%s, %s in %s\n", n, n == 1 ? "" : "s", size, dir);
	}
	free(all);
	return rc ? err_set(e, ERR_IO, "writing to stdout failed") : 0;
}

int app_cmd_kv(int argc, char **argv, struct err *e)
{
	static const struct option table[] = {
		{"json", no_argument, NULL, 'j'},
		{"kv-cache-max", required_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	uint64_t cap = APP_KV_CACHE_MAX_DEFAULT;
	int c, rc;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", table, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'x':
			if ((rc = app_parse_size("kv-cache-max", optarg, &cap, e)))
				return rc;
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		default:
			fputs(usage_text, stderr);
			return err_set(e, ERR_USAGE, "kv: unknown option or missing value '%s'",
				       argv[optind - 1]);
		}
	}
	const char *sub = optind < argc ? argv[optind] : NULL;
	int npos = argc - optind - 1;
	if (!sub || (strcmp(sub, "ls") && strcmp(sub, "rm") && strcmp(sub, "gc")) ||
	    (!strcmp(sub, "rm") ? npos != 1 : npos != 0)) {
		fputs(usage_text, stderr);
		return err_set(e, ERR_USAGE, "kv: %s", sub ? "wrong subcommand or arguments"
							     : "which subcommand? ls, rm or gc");
	}
	char dir[4096];
	if ((rc = app_path_kv_dir(0, dir, sizeof dir, e)))
		return rc;
	if (!strcmp(sub, "ls"))
		return list(dir, json, e);
	if (!strcmp(sub, "rm")) {
		char id[17];
		if ((rc = kv_dir_remove(dir, argv[optind + 1], id, e)))
			return rc;
		printf("removed KV snapshot %s\n", id);
		return 0;
	}
	struct kv_gc_result r;
	if ((rc = kv_dir_gc(dir, cap, &r, e)))
		return rc;
	char freed[32], kept[32];
	fmt_bytes(freed, sizeof freed, r.freed_bytes);
	fmt_bytes(kept, sizeof kept, r.kept_bytes);
	printf("removed %zu damaged, %zu unfinished and %zu least recently used snapshot%s "
	       "(%s); %s kept\n", r.removed_damaged, r.removed_temp, r.removed_old,
	       r.removed_old == 1 ? "" : "s", freed, kept);
	return 0;
}
