/*
 * ops.c -- operation names: X-Amz-Target header values to p_op and back
 * (protocol.md 1). Every operation of the DynamoDB and DynamoDB Streams
 * models is known, so the router can tell an unknown operation
 * (UnknownOperationException) from one dynafile does not implement yet.
 */
#include <string.h>

#include "protocol/protocol_int.h"

/* clang-format off */
static const char *const k_names[P_OP_COUNT] = {
    [P_OP_NONE] = "",
#define X(name) [P_OP_##name] = #name,
    P_OPS(X)
#undef X
#define X(name) [P_OP_Streams_##name] = #name,
    P_STREAM_OPS(X)
#undef X
};
/* clang-format on */

const char *p_op_name(p_op op) {
  if ((int)op <= 0 || op >= P_OP_COUNT) return "";
  return k_names[op];
}

p_op p_op_from_target(const char *target) {
  if (!target) return P_OP_NONE;
  const char *dot = strchr(target, '.');
  if (!dot) return P_OP_NONE;
  size_t plen = (size_t)(dot - target);
  const char *name = dot + 1;
  p_op first, last;
  if ((plen == 17 && memcmp(target, "DynamoDB_20120810", 17) == 0) ||
      (plen == 17 && memcmp(target, "DynamoDB_20111205", 17) == 0)) {
    first = P_OP_NONE + 1;
    last = P_OP_Streams_DescribeStream;
  } else if (plen == 24 && memcmp(target, "DynamoDBStreams_20120810", 24) == 0) {
    first = P_OP_Streams_DescribeStream;
    last = P_OP_COUNT;
  } else {
    return P_OP_NONE;
  }
  for (p_op op = first; op < last; op++) /* the first letter spares most strcmp calls */
    if (k_names[op][0] == name[0] && strcmp(k_names[op], name) == 0) return op;
  return P_OP_NONE;
}
