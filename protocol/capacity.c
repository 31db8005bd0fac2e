/*
 * capacity.c -- capacity units and the ConsumedCapacity object
 * (operations.md 3). Reads are charged in 4 KB units (half for eventually
 * consistent reads), writes in 1 KB units; a missing item still costs one
 * unit. Units are JSON reals ("CapacityUnits":1.0) as AWS sends them.
 */
#include "protocol/protocol_int.h"

#define READ_UNIT 4096u
#define WRITE_UNIT 1024u

double p_read_units(size_t item_size, int found, int consistent) {
  double units = found ? (double)((item_size + READ_UNIT - 1) / READ_UNIT) : 1.0;
  if (units < 1.0) units = 1.0;
  return consistent ? units : units * 0.5;
}

double p_write_units(size_t new_size, size_t old_size, int old_found) {
  size_t sz = new_size;
  if (old_found && old_size > sz) sz = old_size;
  double units = (double)((sz + WRITE_UNIT - 1) / WRITE_UNIT);
  return units < 1.0 ? 1.0 : units;
}

json_t *p_consumed_capacity(const char *table, double units, p_rcc mode) {
  if (mode == P_RCC_NONE) return NULL;
  json_t *o = json_object();
  json_object_set_new(o, "TableName", json_string(table));
  json_object_set_new(o, "CapacityUnits", json_real(units));
  if (mode == P_RCC_INDEXES) {
    json_t *t = json_object();
    json_object_set_new(t, "CapacityUnits", json_real(units));
    json_object_set_new(o, "Table", t);
  }
  return o;
}
