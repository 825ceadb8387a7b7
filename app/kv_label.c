/*
 * kv_label.c — labels of conversations' KV snapshots (see kv_label.h).
 */
#include "app/kv_label.h"

#include <stdio.h>

#include "app/paths.h"
#include "engine/kv_store.h"

void app_kv_label(int64_t cid, char *buf, size_t size)
{
	if (cid)
		snprintf(buf, size, "conversation %lld", (long long)cid);
	else if (size)
		buf[0] = '\0';
}

void app_kv_forget(int64_t cid)
{
	char dir[4096], label[64];
	struct err e = {0};
	size_t removed;
	if (!cid || app_path_kv_dir(0, dir, sizeof dir, &e))
		return;
	app_kv_label(cid, label, sizeof label);
	kv_dir_remove_label(dir, label, &removed, &e);
}
