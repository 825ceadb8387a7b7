/* config_json.c — typed readers of config.json fields (config_parse.h). */
#include "engine/config_parse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * An integer field in [lo, hi]. Absent: def. null: null_val when null_ok (the HF code
 * treats None as "not used"), else an error.
 */
int cfg_get_int(json_t *obj, const char *prefix, const char *field, int64_t def,
		   int64_t lo, int64_t hi, int null_ok, int64_t null_val, int64_t *out,
		   struct err *e)
{
	json_t *v = json_object_get(obj, field);
	char b[80];
	if (!v) {
		*out = def;
		return 0;
	}
	if (json_is_null(v)) {
		if (!null_ok)
			return err_set(e, ERR_FORMAT, "%s%s must be an integer, not null", prefix,
				       field);
		*out = null_val;
		return 0;
	}
	if (!json_is_integer(v))
		return err_set(e, ERR_FORMAT, "%s%s must be an integer, got %s (%s)", prefix,
			       field, json_type_desc(v), json_repr(v, b, sizeof b));
	json_int_t x = json_integer_value(v);
	if (x < lo || x > hi)
		return err_set(e, ERR_RANGE,
			       "%s%s = %lld is out of range: ponder accepts %lld..%lld", prefix,
			       field, (long long)x, (long long)lo, (long long)hi);
	*out = x;
	return 0;
}

/* A number (integer or real) in [lo, hi] (lo exclusive when lo_open). */
int cfg_get_num(json_t *obj, const char *prefix, const char *field, double def, double lo,
		   int lo_open, double hi, double *out, struct err *e)
{
	json_t *v = json_object_get(obj, field);
	char b[80];
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_number(v))
		return err_set(e, ERR_FORMAT, "%s%s must be a number, got %s (%s)", prefix, field,
			       json_type_desc(v), json_repr(v, b, sizeof b));
	double x = json_number_value(v);
	if (!isfinite(x) || x > hi || (lo_open ? x <= lo : x < lo))
		return err_set(e, ERR_RANGE, "%s%s = %g is out of range: ponder accepts %s %g %s %g",
			       prefix, field, x, lo_open ? "more than" : "from", lo,
			       lo_open ? "up to" : "to", hi);
	*out = x;
	return 0;
}

int cfg_get_bool(json_t *obj, const char *prefix, const char *field, bool def, bool *out,
		    struct err *e)
{
	json_t *v = json_object_get(obj, field);
	char b[80];
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return err_set(e, ERR_FORMAT, "%s%s must be true or false, got %s", prefix, field,
			       json_repr(v, b, sizeof b));
	*out = json_is_true(v);
	return 0;
}

int cfg_get_str(json_t *obj, const char *prefix, const char *field, const char *def,
		   const char **out, struct err *e)
{
	json_t *v = json_object_get(obj, field);
	char b[80];
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_string(v))
		return err_set(e, ERR_FORMAT, "%s%s must be a string, got %s", prefix, field,
			       json_repr(v, b, sizeof b));
	*out = json_string_value(v);
	return 0;
}


int cfg_check_keys(json_t *obj, const char *field, const char *const *known,
		   const char *implemented, struct err *e)
{
	char b[80];
	if (!json_is_object(obj))
		return err_set(e, ERR_FORMAT, "%s must be an object or null, got %s", field,
			       json_repr(obj, b, sizeof b));
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val) {
		size_t i = 0;
		while (known[i] && strcmp(known[i], key) != 0)
			i++;
		if (!known[i])
			return err_set(e, ERR_UNSUPPORTED, "%s.%.40s is not supported: ponder "
				       "implements %s", field, key, implemented);
	}
	return 0;
}
