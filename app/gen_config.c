/* gen_config.c — see gen_config.h. */
#include "app/gen_config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A number key in [lo, hi] into *out; absent keys leave *out as it is. */
static int get_num(json_t *root, const char *path, const char *key, double lo, double hi,
		   double *out, struct err *e)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return 0;
	double x = json_is_number(v) ? json_number_value(v) : NAN;
	if (!isfinite(x) || x < lo || x > hi)
		return err_set(e, ERR_MODEL, "%s: \"%s\" must be a number from %g to %g; fix or "
			       "remove it", path, key, lo, hi);
	*out = x;
	return 0;
}

int app_gen_config_read(const char *dir, struct app_gen_config *g, struct err *e)
{
	*g = (struct app_gen_config){-1, -1, -1, -1};
	char path[4200];
	snprintf(path, sizeof path, "%s/generation_config.json", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return err_set(e, ERR_MODEL, "cannot read %s: %s", path, strerror(errno));
	}
	json_error_t je;
	json_t *root = json_loadf(f, 0, &je);
	fclose(f);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return err_set(e, ERR_MODEL, "%s is not a JSON object (line %d: %s)", path,
			       je.line, root ? "not an object" : je.text);
	}
	double top_k = -1;
	int rc = get_num(root, path, "temperature", 0, 100, &g->temperature, e);
	if (!rc)
		rc = get_num(root, path, "top_p", 0, 1, &g->top_p, e);
	if (!rc)
		rc = get_num(root, path, "min_p", 0, 1, &g->min_p, e);
	if (!rc)
		rc = get_num(root, path, "top_k", 0, 2147483647.0, &top_k, e);
	if (!rc && top_k >= 0 && top_k != floor(top_k))
		rc = err_set(e, ERR_MODEL, "%s: \"top_k\" must be a whole number", path);
	g->top_k = (int)top_k;
	json_t *ds = json_object_get(root, "do_sample");
	if (!rc && ds && !json_is_boolean(ds) && !json_is_null(ds))
		rc = err_set(e, ERR_MODEL, "%s: \"do_sample\" must be true or false", path);
	else if (!rc && json_is_false(ds))
		g->temperature = 0; /* greedy: the sampler's temperature 0 */
	json_decref(root);
	return rc;
}
