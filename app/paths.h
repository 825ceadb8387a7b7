/*
 * paths.h — where ponder keeps its files, following the XDG base directory spec.
 *
 *   data   $XDG_DATA_HOME/ponder    (default ~/.local/share/ponder)  history.db
 *   config $XDG_CONFIG_HOME/ponder  (default ~/.config/ponder)
 *   state  $XDG_STATE_HOME/ponder   (default ~/.local/state/ponder)
 *   cache  $XDG_CACHE_HOME/ponder   (default ~/.cache/ponder)        kv/ snapshots
 *
 * An XDG variable that is unset, empty or not an absolute path is ignored, as the spec
 * says. Home is $HOME, else the password database. Folders ponder creates get mode 0700
 * (they hold private conversations); folders that exist are left as they are. The home
 * folder itself is never created: when it is missing, creating fails with ERR_IO.
 */
#ifndef PONDER_APP_PATHS_H
#define PONDER_APP_PATHS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

enum app_dir {
	APP_DIR_DATA,
	APP_DIR_CONFIG,
	APP_DIR_STATE,
	APP_DIR_CACHE,
};

/* The ponder folder of kind `which` into buf (no trailing slash). With create, makes it
   (and its parents) when missing. ERR_RANGE when it does not fit, ERR_IO when it cannot
   be made or no home is known. */
int app_path_dir(enum app_dir which, int create, char *buf, size_t size, struct err *e);

/* mkdir -p: creates each missing component with `mode`. ERR_IO names the component. */
int app_mkdir_p(const char *path, mode_t mode, struct err *e);

/*
 * The history database path: `override` (from --db) if non-empty, else $PONDER_DB if
 * non-empty, else <data dir>/history.db. With create, the file's folder is made (0700)
 * when missing; the file itself is left to hist_open.
 */
int app_path_history_db(const char *override, int create, char *buf, size_t size,
			struct err *e);

/* The KV snapshot folder, <cache dir>/kv; with create, made (0700) when missing. */
int app_path_kv_dir(int create, char *buf, size_t size, struct err *e);

#endif
