/*
 * error.c -- error objects and their wire bodies (protocol.md 5), and the
 * member-constraint accumulator that builds the "N validation errors
 * detected: a; b" messages of protocol.md 2.2.
 *
 * The error table is the P_ERRORS X-macro of protocol.h: one row per code
 * with its "__type", HTTP status and message member name ("message",
 * "Message", or "" for none).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol_int.h"

typedef struct err_row {
  const char *type;   /* "__type" value */
  int status;         /* HTTP status */
  const char *member; /* message member name, "" = none */
} err_row;

static const err_row k_errors[P_ERRCODE_COUNT] = {
#define X(name, type, status, member) {type, status, member},
    P_ERRORS(X)
#undef X
};

void *p__xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "dynafile: out of memory\n");
    abort();
  }
  return p;
}

void *p__xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fprintf(stderr, "dynafile: out of memory\n");
    abort();
  }
  return q;
}

static char *vformat(const char *fmt, va_list ap) {
  if (!fmt) fmt = "";
  char small[256];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  char *s = p__xmalloc((size_t)n + 1);
  if ((size_t)n < sizeof small)
    memcpy(s, small, (size_t)n + 1);
  else
    vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

void p__sbuf_add(p__sbuf *b, const char *s, size_t len) {
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + len + 1) cap *= 2;
    b->p = p__xrealloc(b->p, cap);
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, len);
  b->len += len;
  b->p[b->len] = '\0';
}

void p__sbuf_addf(p__sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = vformat(fmt, ap);
  va_end(ap);
  p__sbuf_add(b, s, strlen(s));
  free(s);
}

/* ---- p_error ----------------------------------------------------------------- */

void p_error_init(p_error *e) {
  e->code = P_OK;
  e->msg = NULL;
  e->extra = NULL;
}

void p_error_clear(p_error *e) {
  free(e->msg);
  json_decref(e->extra);
  p_error_init(e);
}

int p_error_set(p_error *e, p_errcode code, const char *fmt, ...) {
  free(e->msg);
  e->msg = NULL;
  e->code = code;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    e->msg = vformat(fmt, ap);
    va_end(ap);
  }
  return -1;
}

int p_error_status(p_errcode code) {
  if ((int)code < 0 || code >= P_ERRCODE_COUNT) return 500;
  return k_errors[code].status;
}

const char *p_error_type(p_errcode code) {
  if ((int)code < 0 || code >= P_ERRCODE_COUNT) return k_errors[P_INTERNAL].type;
  return k_errors[code].type;
}

char *p_error_body(const p_error *e, size_t *len) {
  p_errcode code = e->code;
  if ((int)code < 0 || code >= P_ERRCODE_COUNT) code = P_INTERNAL;
  json_t *o = json_object();
  if (code != P_OK) json_object_set_new(o, "__type", json_string(k_errors[code].type));
  const char *member = k_errors[code].member;
  if (e->msg && member[0]) {
    json_t *m = json_string(e->msg);
    /* Messages echo request text that jansson already validated as UTF-8;
     * this only guards against a malformed internal message. */
    if (!m) m = json_string("(message not valid UTF-8)");
    json_object_set_new(o, member, m);
  }
  if (e->extra && json_is_object(e->extra)) {
    const char *k;
    json_t *v;
    json_object_foreach(e->extra, k, v) json_object_set(o, k, v);
  }
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  if (!s) {
    fprintf(stderr, "dynafile: out of memory\n");
    abort();
  }
  if (len) *len = strlen(s);
  return s;
}

/* ---- member constraints ------------------------------------------------------ */

void p__verrs_init(p__verrs *v) {
  memset(v, 0, sizeof *v);
}

void p__verrs_free(p__verrs *v) {
  for (int i = 0; i < v->n && i < P_VERRS_MAX; i++) free(v->items[i]);
  v->n = 0;
}

void p__verrs_add(p__verrs *v, const char *fmt, ...) {
  if (v->n < P_VERRS_MAX) {
    va_list ap;
    va_start(ap, fmt);
    v->items[v->n] = vformat(fmt, ap);
    va_end(ap);
  }
  v->n++;
}

int p__verrs_finish(p__verrs *v, p_error *err) {
  if (v->n == 0) return 0;
  int shown = v->n < P_VERRS_MAX ? v->n : P_VERRS_MAX;
  p__sbuf b = {0};
  if (shown == 1)
    p__sbuf_addf(&b, "1 validation error detected: ");
  else
    p__sbuf_addf(&b, "%d validation errors detected: ", shown);
  for (int i = 0; i < shown; i++) {
    if (i) p__sbuf_add(&b, "; ", 2);
    p__sbuf_add(&b, v->items[i], strlen(v->items[i]));
  }
  p__verrs_free(v);
  p_error_set(err, P_VALIDATION, "%s", b.p);
  free(b.p);
  return -1;
}

void p__verr_null(p__verrs *v, const char *path) {
  p__verrs_add(v, "Value null at '%s' failed to satisfy constraint: Member must not be null", path);
}

void p__verr_enum(p__verrs *v, const char *value, const char *path, const char *set) {
  p__verrs_add(v, "Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
               value, path, set);
}

bool p__table_name_chars_ok(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  }
  return true;
}

/* Length in characters as Java counts them (UTF-16 code units). */
static size_t utf16_len(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c & 0xC0) != 0x80) n += c >= 0xF0 ? 2 : 1;
  }
  return n;
}

void p__verr_string(p__verrs *v, const char *value, size_t len, const char *path, size_t min, size_t max,
                    const char *pattern) {
  size_t n = utf16_len(value, len);
  if (pattern && len > 0 && !p__table_name_chars_ok(value, len))
    p__verrs_add(v,
                 "Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression "
                 "pattern: %s",
                 value, path, pattern);
  if (n < min)
    p__verrs_add(v,
                 "Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or "
                 "equal to %zu",
                 value, path, min);
  if (max && n > max)
    p__verrs_add(v,
                 "Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or "
                 "equal to %zu",
                 value, path, max);
}

int p__value_error_envelope(p_error *err) {
  if (!err->msg) return -1;
  char *m = err->msg;
  err->msg = NULL;
  p_error_set(err, err->code, "1 validation error detected: %s", m);
  free(m);
  return -1;
}

int p__unsupported(p_error *err, const char *member) {
  return p_error_set(err, P_VALIDATION, "The parameter '%s' is not supported yet by dynafile", member);
}
