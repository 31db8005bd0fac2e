/*
 * router.c -- the operation table. Every operation of the DynamoDB and
 * Streams APIs (p_op) has one row: its handler and what it does. An
 * operation that exists in the API but has no handler yet answers a 400
 * ValidationException naming it -- never a 5xx, which SDKs would retry for
 * seconds. Unknown targets never get here (http.c answers
 * UnknownOperationException first).
 */
#include "server/server_int.h"

static const df_route routes[P_OP_COUNT] = {
    [P_OP_CreateTable] = {h_create_table, DF_OP_CONTROL | DF_OP_WRITE},
    [P_OP_DescribeTable] = {h_describe_table, DF_OP_CONTROL},
    [P_OP_ListTables] = {h_list_tables, DF_OP_CONTROL},
    [P_OP_DeleteTable] = {h_delete_table, DF_OP_CONTROL | DF_OP_WRITE | DF_OP_CHECKPOINT},
    [P_OP_DescribeEndpoints] = {h_describe_endpoints, DF_OP_CONTROL},
    [P_OP_DescribeLimits] = {h_describe_limits, DF_OP_CONTROL},
    [P_OP_PutItem] = {h_put_item, DF_OP_WRITE},
    [P_OP_GetItem] = {h_get_item, DF_OP_READ},
    [P_OP_DeleteItem] = {h_delete_item, DF_OP_WRITE},
    [P_OP_UpdateItem] = {h_update_item, DF_OP_WRITE},
    [P_OP_BatchGetItem] = {h_batch_get_item, DF_OP_READ},
    [P_OP_BatchWriteItem] = {h_batch_write_item, DF_OP_WRITE},
    [P_OP_Query] = {h_query, DF_OP_READ},
    [P_OP_Scan] = {h_scan, DF_OP_READ},
    /* Not implemented yet: flags only, so logs and policy already know them. */
    [P_OP_TransactGetItems] = {NULL, DF_OP_READ},
    [P_OP_TransactWriteItems] = {NULL, DF_OP_WRITE},
    [P_OP_ExecuteStatement] = {NULL, DF_OP_READ | DF_OP_WRITE},
    [P_OP_BatchExecuteStatement] = {NULL, DF_OP_READ | DF_OP_WRITE},
    [P_OP_ExecuteTransaction] = {NULL, DF_OP_READ | DF_OP_WRITE},
    [P_OP_UpdateTable] = {h_update_table, DF_OP_CONTROL | DF_OP_WRITE},
    [P_OP_UpdateTimeToLive] = {h_update_time_to_live, DF_OP_CONTROL | DF_OP_WRITE},
    [P_OP_DescribeTimeToLive] = {h_describe_time_to_live, DF_OP_CONTROL},
    [P_OP_TagResource] = {NULL, DF_OP_CONTROL | DF_OP_WRITE},
    [P_OP_UntagResource] = {NULL, DF_OP_CONTROL | DF_OP_WRITE},
    [P_OP_ListTagsOfResource] = {NULL, DF_OP_CONTROL},
    [P_OP_Streams_DescribeStream] = {h_describe_stream, DF_OP_STREAM},
    [P_OP_Streams_GetRecords] = {h_get_records, DF_OP_STREAM | DF_OP_READ},
    [P_OP_Streams_GetShardIterator] = {h_get_shard_iterator, DF_OP_STREAM},
    [P_OP_Streams_ListStreams] = {h_list_streams, DF_OP_STREAM},
    /* Every other operation: zero row = control plane, not implemented. */
};

static const df_route unknown_route = {NULL, 0};

const df_route *df_router_get(p_op op) {
  if (op <= P_OP_NONE || op >= P_OP_COUNT) return &unknown_route;
  return &routes[op];
}

void df_router_dispatch(df_req *r) {
  const df_route *rt = df_router_get(r->op);
  if (rt->handler != NULL) {
    rt->handler(r);
    if (rt->flags & DF_OP_CHECKPOINT) df_commit_checkpoint_soon(r->srv);
    return;
  }
  p_error e;
  p_error_init(&e);
  p_error_set(&e, P_VALIDATION, "%s is not implemented by dynafile yet", p_op_name(r->op));
  df_reply_error(r, &e, 0);
  p_error_clear(&e);
}
