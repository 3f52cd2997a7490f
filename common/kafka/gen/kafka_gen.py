#!/usr/bin/env python3
"""Turn the official Apache Kafka message schemas (JSON with // comments) into compact C tables.

Run at development time (`make kafka-gen`); the output, common/kafka/kafka_schema_gen.{c,h}, is committed so
builds never need python or the schemas.  The generated code holds no logic: one C struct per message and per
nested struct (fields of every version), and field-descriptor tables that the one generic encoder/decoder in
common/kafka/codec.c interprets.  Supporting a newer version of an API is a change to API_RANGES below, then a
regeneration; the schemas already describe every version.
"""
import json, os, re, sys

# The APIs we speak and the version range we advertise (issue 4).  The tables always describe every version the
# schema knows; these ranges are what ApiVersions answers and what the codec accepts.
API_RANGES = [
    ("Produce", 0, 9), ("Fetch", 0, 12), ("ListOffsets", 0, 7), ("Metadata", 0, 12),
    ("OffsetCommit", 0, 8), ("OffsetFetch", 0, 8), ("FindCoordinator", 0, 4), ("JoinGroup", 0, 7),
    ("Heartbeat", 0, 4), ("LeaveGroup", 0, 4), ("SyncGroup", 0, 5), ("DescribeGroups", 0, 5),
    ("ListGroups", 0, 4), ("SaslHandshake", 0, 1), ("ApiVersions", 0, 3), ("CreateTopics", 0, 7),
    ("DeleteTopics", 0, 6), ("InitProducerId", 0, 4), ("OffsetForLeaderEpoch", 0, 4),
    ("DescribeConfigs", 0, 4), ("SaslAuthenticate", 0, 2), ("DescribeCluster", 0, 1),
]

VMAX = 127  # "N+" in a version range

PRIM = {
    "bool": ("BOOL", "bool"), "int8": ("INT8", "int8_t"), "int16": ("INT16", "int16_t"),
    "uint16": ("UINT16", "uint16_t"), "int32": ("INT32", "int32_t"), "int64": ("INT64", "int64_t"),
    "float64": ("FLOAT64", "double"), "uuid": ("UUID", "struct kafka_uuid"),
    "string": ("STRING", "struct kafka_str"), "bytes": ("BYTES", "struct kafka_bytes"),
    "records": ("RECORDS", "struct kafka_bytes"),
}


def strip_comments(text):
    out, i, n, in_str = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1]); i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True; out.append(c)
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def vrange(s):
    """'0+', '3-5', '4', 'none' -> (lo, hi); lo > hi means never."""
    if s is None or s == "none":
        return (VMAX, -1)
    s = s.strip()
    if s.endswith("+"):
        return (int(s[:-1]), VMAX)
    if "-" in s:
        a, b = s.split("-")
        return (int(a), int(b))
    return (int(s), int(s))


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def cdefault(ftype, d, nullable_default):
    if ftype in ("string", "bytes", "records") or ftype.startswith("[]") or ftype[0].isupper():
        return 1 if d == "null" else 0
    if isinstance(d, bool):
        return int(d)
    if isinstance(d, (int, float)):
        return int(d)
    if d is None or d == "":
        return 0
    if d in ("true", "false"):
        return 1 if d == "true" else 0
    if ftype == "float64":
        return int(float(d))
    return int(d, 0)


class Gen:
    def __init__(self):
        self.structs = []  # (cname, fields list) in dependency order

    def struct(self, cname, fields, common):
        """Register a struct; returns cname.  fields: schema field dicts."""
        out = []
        for f in fields:
            t = f["type"]
            arr = t.startswith("[]")
            base = t[2:] if arr else t
            sub = None
            if base not in PRIM:
                # A nullable struct (not an array) has its own int8 presence marker on the wire, which the
                # codec does not implement; none of our APIs has one, and a new one must not slip by.
                if not arr and "nullableVersions" in f:
                    raise NotImplementedError("nullable struct field %s" % f["name"])
                sub_fields = f.get("fields")
                if sub_fields is None:
                    sub_fields = common[base]
                short = snake(base)
                if short.startswith(self.msg_snake + "_"):  # OffsetFetchRequestTopic -> topic
                    short = short[len(self.msg_snake) + 1:]
                sub = self.struct(self.prefix + "_" + short, sub_fields, common)
            out.append(dict(f, arr=arr, base=base, sub=sub))
        for name, prev in self.structs:
            if name == cname:
                assert [f["name"] for f in prev] == [f["name"] for f in out], cname
                return cname
        self.structs.append((cname, out))
        return cname

    def message(self, schema):
        name = schema["name"]
        self.msg_snake = snake(name)
        self.prefix = "kafka_" + self.msg_snake
        common = {c["name"]: c["fields"] for c in schema.get("commonStructs", [])}
        return self.struct(self.prefix, schema["fields"], common)


def ctype(f):
    if f["sub"]:
        t = "struct " + f["sub"]
    else:
        t = PRIM[f["base"]][1]
    return t


def emit(schema_dir, out_dir):
    gen = Gen()
    msgs = []
    for api, lo, hi in API_RANGES:
        for kind in ("Request", "Response"):
            with open(os.path.join(schema_dir, api + kind + ".json")) as fh:
                s = json.loads(strip_comments(fh.read()))
            vlo, vhi = vrange(s["validVersions"])
            assert hi <= vhi, (api, hi, vhi)
            root = gen.message(s)
            msgs.append(dict(api=api, kind=kind, key=s["apiKey"], vlo=vlo, vhi=vhi,
                             flex=vrange(s["flexibleVersions"])[0], root=root, lo=lo, hi=hi))

    h = []
    h.append("/* GENERATED by common/kafka/gen/kafka_gen.py from the Apache Kafka 3.8.0 message schemas.\n"
             " * Do not edit: change the generator or its API_RANGES and run `make kafka-gen`.\n"
             " * One struct per message and nested struct, holding the fields of every version; the descriptor\n"
             " * tables in kafka_schema_gen.c tell the generic codec (kafka/codec.h) which versions carry which. */")
    h.append("#ifndef FERRY_KAFKA_SCHEMA_GEN_H\n#define FERRY_KAFKA_SCHEMA_GEN_H\n")
    h.append('#include "kafka/schema.h"\n')
    h.append("enum kafka_api_key {")
    for m in msgs[::2]:
        h.append("\tKAFKA_API_%s = %d," % (snake(m["api"]).upper(), m["key"]))
    h.append("};\n")
    h.append("#define KAFKA_API_COUNT %d" % len(API_RANGES))
    h.append("#define KAFKA_API_KEY_MAX %d\n" % max(m["key"] for m in msgs))
    for cname, fields in gen.structs:
        h.append("struct %s {" % cname)
        if not fields:
            h.append("\tchar unused_; /* no fields in any version */")
        for f in fields:
            fn = snake(f["name"])
            vl, vh = vrange(f.get("versions"))
            note = "v%d+" % vl if vh == VMAX else "v%d-%d" % (vl, vh)
            if "tag" in f:
                note += ", tag %d" % f["tag"]
            if f["arr"]:
                h.append("\tstruct {\n\t\t%s *items;\n\t\tint32_t count; /* -1: null */\n\t} %s; /* %s */"
                         % (ctype(f), fn, note))
            else:
                h.append("\t%s %s; /* %s */" % (ctype(f), fn, note))
        h.append("};\n")
    h.append("/* Layout descriptors of every struct above, for kafka_struct_init() (see KAFKA_INIT). */")
    for cname, fields in gen.structs:
        h.append("extern const struct kafka_struct %s_desc;" % cname)
    h.append("")
    for m in msgs:
        h.append("extern const struct kafka_message kafka_msg_%s_%s;" % (snake(m["api"]), m["kind"].lower()))
    for kind in ("Request", "Response"):
        h.append("\n/* Any %s body, for a dispatcher that decodes before it knows which. */" % kind.lower())
        h.append("union kafka_any_%s {" % kind.lower())
        for m in msgs:
            if m["kind"] == kind:
                h.append("\tstruct %s %s;" % (m["root"], snake(m["api"])))
        h.append("};")
    h.append("\n/* Indexed by position; see kafka_api_find(). */")
    h.append("extern const struct kafka_api_desc kafka_api_table[KAFKA_API_COUNT];")
    h.append("\n#endif")

    c = []
    c.append("/* GENERATED by common/kafka/gen/kafka_gen.py from the Apache Kafka 3.8.0 message schemas. Do not edit. */")
    c.append("#include <stddef.h>\n")
    c.append('#include "kafka/kafka_schema_gen.h"\n')
    for cname, fields in gen.structs:
        c.append("static const struct kafka_field %s_f[];" % cname)

    c.append("")
    asserts = []
    for cname, fields in gen.structs:
        c.append("static const struct kafka_field %s_f[] = {" % cname)
        for f in fields:
            fn = snake(f["name"])
            vl, vh = vrange(f.get("versions"))
            nl, nh = vrange(f.get("nullableVersions"))
            tl, th = vrange(f.get("taggedVersions")) if "tag" in f else (VMAX, -1)
            fx = vrange(f["flexibleVersions"])[0] if "flexibleVersions" in f else -1
            typ = "STRUCT" if f["sub"] else PRIM[f["base"]][0]
            d = cdefault(f["type"], f.get("default"), nl <= nh)
            c.append('\t{ "%s", offsetof(struct %s, %s), KAFKA_T_%s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %dLL, %s },'
                     % (fn, cname, fn, typ, 1 if f["arr"] else 0, vl, vh, nl, nh, tl, th, fx,
                        f.get("tag", -1), d, "&%s_desc" % f["sub"] if f["sub"] else "NULL"))
            if f["arr"]:
                asserts.append("_Static_assert(offsetof(struct %s, %s.count) - offsetof(struct %s, %s) == "
                         "offsetof(struct kafka_array, count), \"array layout\");" % (cname, fn, cname, fn))
        if not fields:
            c.append("\t{ NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL },")
        c.append("};")
        has_tagged = any("tag" in f for f in fields)
        c.append('const struct kafka_struct %s_desc = { "%s", sizeof(struct %s), %d, %s, %s_f };\n'
                 % (cname, cname, cname, len(fields), "true" if has_tagged else "false", cname))
    c.extend(asserts)
    c.append("")
    for m in msgs:
        c.append('const struct kafka_message kafka_msg_%s_%s = { "%s%s", %d, KAFKA_%s, %d, %d, %d, &%s_desc };'
                 % (snake(m["api"]), m["kind"].lower(), m["api"], m["kind"], m["key"], m["kind"].upper(),
                    m["vlo"], m["vhi"], m["flex"], m["root"]))
    c.append("\nconst struct kafka_api_desc kafka_api_table[KAFKA_API_COUNT] = {")
    for i in range(0, len(msgs), 2):
        m = msgs[i]
        c.append('\t{ %d, %d, %d, "%s", &kafka_msg_%s_request, &kafka_msg_%s_response },'
                 % (m["key"], m["lo"], m["hi"], m["api"], snake(m["api"]), snake(m["api"])))
    c.append("};")

    with open(os.path.join(out_dir, "kafka_schema_gen.h"), "w") as fh:
        fh.write("\n".join(h) + "\n")
    with open(os.path.join(out_dir, "kafka_schema_gen.c"), "w") as fh:
        fh.write("\n".join(c) + "\n")


if __name__ == "__main__":
    emit(sys.argv[1], sys.argv[2])
