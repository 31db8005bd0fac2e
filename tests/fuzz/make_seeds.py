#!/usr/bin/env python3
"""make_seeds.py -- regenerates the fuzz seed corpora from the data-driven cases.

    python3 tests/fuzz/make_seeds.py          (from the repo root, or anywhere)

Reads tests/protocol/expr_cases/**.json and tests/protocol/cases/**.json and
writes one seed per chosen case into tests/fuzz/corpus/expr/ and
tests/fuzz/corpus/request/ (both emptied first), in the input layouts that
fuzz_expr.c and fuzz_request.c document at their top. To keep the corpus
modest (a few hundred files) it takes at most PER_FOLDER cases of each case
folder, spread evenly over every (folder, kind) group so that rare kinds
still get a seed. The choice is deterministic: run it twice, get the same
files.
"""
import json
import re
import math
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPR_CASES = os.path.join(ROOT, "tests", "protocol", "expr_cases")
REQ_CASES = os.path.join(ROOT, "tests", "protocol", "cases")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")

PER_FOLDER_EXPR = 20
PER_FOLDER_REQ = 25
# The secondary-index case folders (their requests name the indexes of
# fuzz_request.c's indexed table): more seeds each, split by op and outcome.
INDEX_FOLDERS = {"create_table_indexes", "query_index", "scan_index", "write_index", "update_table_gsi"}
PER_FOLDER_INDEX = 40

# fuzz_expr.c: selector = kind + 10 * flags.
EXPR_KINDS = {
    "condition": 0, "filter": 1, "key_condition": 2, "update": 3, "projection": 4,
    "expected": 5, "query_filter": 6, "scan_filter": 7, "key_conditions": 8,
    "attribute_updates": 9,
}
EXPR_FLAG_OLDER, EXPR_FLAG_WRAPPED, EXPR_FLAG_OR = 1, 2, 4

# fuzz_request.c: selector = op + 15 * flags.
REQ_OPS = {
    "PutItem": 0, "GetItem": 1, "DeleteItem": 2, "CreateTable": 3, "ListTables": 4,
    "DescribeTable": 5, "DeleteTable": 5, "BatchWriteItem": 7, "BatchGetItem": 8,
    "Value": 9, "Item": 10, "UpdateItem": 12, "Query": 13, "Scan": 14,
    # the second table of fuzz_request.c (flags bit 1: byte 30 + index)
    "UpdateTable": 30, "UpdateTimeToLive": 31, "ListStreams": 32, "DescribeStream": 33,
    "GetShardIterator": 34, "GetRecords": 35,
}
REQ_FLAG_OLDER = 1


# Seeds written by hand that parse and reach the evaluator deep on the fixed
# item of fuzz_expr.c (nested paths, list shifts, set arithmetic, functions):
# the case files are mostly error cases. (name, kind, names, values, text).
V = {":s": {"S": "x"}, ":n": {"N": "2"}, ":ss": {"SS": ["x", "q"]}, ":ns": {"NS": ["1", "9"]},
     ":bs": {"BS": ["AQ=="]}, ":l": {"L": [{"S": "e"}, {"N": "5"}]}, ":m": {"M": {"k": {"S": "v"}}},
     ":t": {"S": "SS"}, ":z": {"NULL": True}, ":big": {"N": "9E+125"}}
EVAL_SEEDS = [
    ("cond_nested", "condition", None, V, "a.b.c = :n OR a.c[1] > :n AND size(b) >= :n"),
    ("cond_functions", "condition", {"#d": "a.b"}, V,
     "attribute_type(d, :t) AND begins_with(x, :s) AND contains(d, :s) AND attribute_exists(#d) "
     "AND NOT attribute_not_exists(a.c[2][0].d)"),
    ("cond_in_between", "condition", {"#y": "year"}, V, "c BETWEEN :n AND :big OR #y IN (:n, :s, :big) OR s <> :ns"),
    ("cond_sets", "filter", None, V, "contains(s, :n) AND size(n) = :n AND contains(b, :z) AND size(a) < :n"),
    ("key_range", "key_condition", None, V, "pk = :s AND sk BETWEEN :n AND :big"),
    ("key_begins", "key_condition", None, V, "begins_with(sk, :s) AND pk = :s"),
    ("upd_set_nested", "update", None, V, "SET a.b.c = a.b.c + :n, a.c[5] = :l, b[1] = if_not_exists(nope, :m)"),
    ("upd_list", "update", None, V, "SET l = list_append(:l, l), b = list_append(b, :l) REMOVE a.c[0], foo"),
    ("upd_add_delete", "update", None, V, "ADD d :ss, s :ns, c :n, n :bs, newset :ss DELETE a.s :ss"),
    ("upd_upsert", "update", None, V, "SET x = :s, y = :big - c REMOVE m.gone ADD tally :n"),
    ("upd_overflow", "update", None, V, "SET big = big + :big"),
    ("upd_remove_many", "update", {"#s": "set"}, V, "REMOVE a.b, a.c[1], l[0], l[2], foo, #s"),
    ("proj_nested", "projection", {"#ab": "a.b"}, None, "a.b.c, a.c[2][0], b[0], b[3], #ab, l[1], nothere.x"),
    ("proj_lists", "projection", None, None, "b[3], b[1], b[0], a.c[2], a.c[0], s"),
    ("legacy_expected", "expected", None, None,
     {"c": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "0"}]},
      "x": {"Value": {"S": "abc"}}, "gone": {"Exists": False}}),
    ("legacy_scan", "scan_filter", None, None,
     {"d": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "x"}]},
      "year": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "2000"}]},
      "foo": {"ComparisonOperator": "NOT_NULL"}}),
    ("legacy_keys", "key_conditions", None, None,
     {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "k1"}]},
      "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "1"}]}}),
    ("legacy_updates", "attribute_updates", None, None,
     {"b": {"Action": "ADD", "Value": {"L": [{"S": "z"}]}}, "d": {"Action": "DELETE", "Value": {"SS": ["x"]}},
      "c": {"Action": "ADD", "Value": {"N": "1"}}, "x": {"Action": "DELETE"}, "new": {"Value": {"S": "v"}}}),
]


def eval_seeds():
    out = []
    for name, kind, names, values, text in EVAL_SEEDS:
        case = {}
        if names is not None:
            case["names"] = names
        if values is not None:
            used = values if not isinstance(text, str) else {k: v for k, v in values.items() if re.search(re.escape(k) + r"\b", text)}
            if used:
                case["values"] = used
        if not isinstance(text, str):
            case["request"] = text
            text = None
        out.append(("eval_" + name, expr_seed(case, kind, text)))
    return out


def compact(j):
    return json.dumps(j, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def cases(root):
    """(folder, name, case) for every case file, sorted."""
    out = []
    for folder in sorted(os.listdir(root)):
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith(".json"):
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    out.append((folder, name[:-5], json.load(f)))
    return out


def pick(items, group_of, per_folder):
    """At most per_folder items of each folder, spread over its groups."""
    by_folder = {}
    for it in items:
        by_folder.setdefault(it[0], []).append(it)
    chosen = []
    for folder, its in by_folder.items():
        groups = {}
        for it in its:
            groups.setdefault(group_of(it), []).append(it)
        for g in sorted(groups):
            members = groups[g]
            quota = max(1, math.floor(per_folder * len(members) / len(its)))
            step = len(members) / min(quota, len(members))
            chosen += [members[int(i * step)] for i in range(min(quota, len(members)))]
    return chosen


def expr_texts(case):
    """The expression text(s) of an expression case, with their kinds."""
    if "exprs" in case:
        return [(e["kind"], e["expr"]) for e in case["exprs"]]
    if "repeat" in case:
        r = case["repeat"]
        return [(case["kind"], r.get("prefix", "") + r["unit"] * r["count"] + r.get("suffix", ""))]
    if "expr" in case:
        return [(case["kind"], case["expr"])]
    return [(case["kind"], None)]


def expr_seed(case, kind, text):
    flags = 0
    if case.get("conditional_operator") == "OR":
        flags |= EXPR_FLAG_OR
    sel = EXPR_KINDS[kind] + 10 * flags
    names = compact(case["names"]) if "names" in case else b""
    values = compact(case["values"]) if "values" in case else b""
    if EXPR_KINDS[kind] >= 5:
        body = compact(case.get("request", {}))
    else:
        body = text.encode("utf-8")
    return bytes([sel]) + names + b"\n" + values + b"\n" + body


def req_seed(case):
    flags = REQ_FLAG_OLDER if case.get("layer") == "older" else 0
    return bytes([REQ_OPS[case["op"]] + 15 * flags]) + compact(case["request"])


# Seeds for fuzz_request.c's plain-JSON table (bytes 60..63): plain value,
# plain item, merge patch [old, patch], key segment (raw bytes).
PLAIN = [
    (60, {"s": "x", "n": 1.5, "b": {"$b": "AQI="}, "ss": {"$ss": ["a", "b"]}, "ns": {"$ns": [1, "2.5"]},
          "bs": {"$bs": ["AQ=="]}, "exact": {"$n": "12345678901234567890123456789012345678"},
          "m": {"$m": {"$x": 1}}, "l": [True, None, [1, {"k": "v"}]]}),
    (60, {"$ss": []}),
    (61, {"pk": "a", "sk": 5, "v": {"x": [1, 2, {"$bs": ["AQ==", "Ag=="]}]}}),
    (61, {"pk": "a", "bad": {"$nope": 1}}),
    (62, [{"pk": "a", "sk": 1, "m": {"a": 1, "b": {"c": 2}}}, {"m": {"b": {"c": None, "d": 3}}, "x": "y"}]),
    (62, [{"pk": "a", "sk": 1}, {"pk": "b"}]),
]


def plain_seeds():
    out = [("plain_%d" % i, bytes([sel]) + compact(body)) for i, (sel, body) in enumerate(PLAIN)]
    for i, seg in enumerate([b"hello", b"-12.50", b"AQID_w", b"AQID/w==", b""]):
        out.append(("plain_key_%d" % i, bytes([63]) + seg))
    return out


def write(dirname, seeds):
    d = os.path.join(OUT, dirname)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    seen = set()
    n = 0
    for name, data in seeds:
        if data in seen:
            continue
        seen.add(data)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        n += 1
    return n


def main():
    ex = [c for c in cases(EXPR_CASES) if c[2].get("kind") in EXPR_KINDS]
    seeds = []
    for folder, name, case in pick(ex, lambda it: it[2]["kind"], PER_FOLDER_EXPR):
        for i, (kind, text) in enumerate(expr_texts(case)):
            if kind not in EXPR_KINDS or (text is None and EXPR_KINDS[kind] < 5):
                continue
            suffix = "" if i == 0 else "_%d" % i
            seeds.append(("%s_%s%s" % (folder, name, suffix), expr_seed(case, kind, text)))
    n_expr = write("expr", seeds + eval_seeds())

    rq = [c for c in cases(REQ_CASES) if c[2].get("op") in REQ_OPS]
    plain_rq = [c for c in rq if c[0] not in INDEX_FOLDERS]
    index_rq = [c for c in rq if c[0] in INDEX_FOLDERS]
    seeds = [("%s_%s" % (folder, name), req_seed(case))
             for folder, name, case in pick(plain_rq, lambda it: it[2]["op"], PER_FOLDER_REQ)]
    # Index cases: accepted and refused requests of each operation, so that
    # the fuzzer starts from requests that reach fuzz_request.c's indexed
    # table (IndexName resolved, index keys checked) as well as from errors.
    seeds += [("%s_%s" % (folder, name), req_seed(case))
              for folder, name, case in pick(index_rq, lambda it: (it[2]["op"], "ok" in it[2]["expect"]),
                                             PER_FOLDER_INDEX)]
    seeds += plain_seeds()
    n_req = write("request", seeds)
    print("corpus/expr: %d seeds, corpus/request: %d seeds" % (n_expr, n_req))
    return 0


if __name__ == "__main__":
    sys.exit(main())
