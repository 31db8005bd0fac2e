/*
 * base64.c -- strict standard base64 (RFC 4648 alphabet, '=' padding) for
 * the B and BS attribute types.
 *
 * AWS's deserializer rejects, in this order (SerializationException):
 *   1. a length that is not a multiple of 4 (counted in UTF-16 units, as
 *      Java does): "Base64 encoded length is expected a multiple of 4 bytes
 *      but found: N";
 *   2. the first character outside [A-Za-z0-9+/=], or a '=' followed by
 *      anything but '=': "Invalid Base64 character: 'c'";
 *   3. any other non-canonical text (three '=', "====", unused bits of the
 *      last character not zero): "Invalid last non-pad Base64 character
 *      dectected" (sic).
 * Valid text therefore round-trips exactly through decode + encode.
 */
#include <string.h>

#include "protocol/protocol_int.h"

static const char k_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Bytes of the UTF-8 sequence that starts with c. */
static size_t utf8_seq_len(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

int p__b64_check(const char *s, size_t len, p_error *err) {
  size_t units = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c & 0xC0) != 0x80) units += c >= 0xF0 ? 2 : 1;
  }
  if (units % 4)
    return p_error_set(err, P_SERIALIZATION,
                       "Base64 encoded length is expected a multiple of 4 bytes but found: %zu", units);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '=') {
      if (i + 1 < len && s[i + 1] != '=')
        return p_error_set(err, P_SERIALIZATION, "Invalid Base64 character: '='");
      continue;
    }
    if (b64_val(c) < 0) {
      size_t n = utf8_seq_len(c);
      if (i + n > len) n = len - i;
      return p_error_set(err, P_SERIALIZATION, "Invalid Base64 character: '%.*s'", (int)n, s + i);
    }
  }
  /* Here every '=' is in a trailing run. Canonical: at most 2 of them, not a
   * whole group, and zero unused bits. */
  size_t pad = 0;
  while (pad < len && s[len - 1 - pad] == '=') pad++;
  if (len > 0) {
    if (pad > 2) goto bad_last;
    if (pad == 2 && (b64_val((unsigned char)s[len - 3]) & 0x0F)) goto bad_last;
    if (pad == 1 && (b64_val((unsigned char)s[len - 2]) & 0x03)) goto bad_last;
  }
  return 0;
bad_last:
  return p_error_set(err, P_SERIALIZATION, "Invalid last non-pad Base64 character dectected");
}

size_t p__b64_decoded_len(const char *s, size_t len) {
  if (len == 0) return 0;
  size_t pad = 0;
  while (pad < 2 && pad < len && s[len - 1 - pad] == '=') pad++;
  return len / 4 * 3 - pad;
}

void p__b64_decode(const char *s, size_t len, uint8_t *out) {
  size_t o = 0;
  for (size_t i = 0; i + 4 <= len; i += 4) {
    int v[4];
    int nv = 0;
    for (int k = 0; k < 4; k++) {
      int x = s[i + k] == '=' ? -1 : b64_val((unsigned char)s[i + k]);
      v[k] = x < 0 ? 0 : x;
      if (x >= 0) nv++;
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    out[o++] = (uint8_t)(w >> 16);
    if (nv >= 3) out[o++] = (uint8_t)(w >> 8);
    if (nv >= 4) out[o++] = (uint8_t)w;
  }
}

size_t p__b64_encode(const uint8_t *p, size_t n, char *out) {
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = k_alpha[w >> 18];
    out[o++] = k_alpha[(w >> 12) & 63];
    out[o++] = k_alpha[(w >> 6) & 63];
    out[o++] = k_alpha[w & 63];
  }
  if (n - i == 1) {
    uint32_t w = (uint32_t)p[i] << 16;
    out[o++] = k_alpha[w >> 18];
    out[o++] = k_alpha[(w >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    out[o++] = k_alpha[w >> 18];
    out[o++] = k_alpha[(w >> 12) & 63];
    out[o++] = k_alpha[(w >> 6) & 63];
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}
