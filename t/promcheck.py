#!/usr/bin/env python3
"""A strict reader of the Prometheus text format (version 0.0.4), for the
tests of --metrics: stricter than Prometheus itself where moonwire has no
reason to use a freedom (comments other than HELP and TYPE, timestamps, a
trailing comma). Checks every line, families kept together and typed before
their samples, no series twice, label names and values, and for a histogram
cumulative buckets, a +Inf bucket equal to its _count, and a _sum.

    promcheck.py FILE                 exit 0 when FILE is valid, else 1 (errors on stderr)
    promcheck.py FILE --value SERIES  also prints the value of SERIES, written
                                      name{a="x",b="y"} (labels in any order)
    promcheck.py FILE --sum NAME      also prints the sum of the samples named NAME
    promcheck.py FILE --families      also prints each family: name, type, samples
"""
import math
import re
import sys

METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
FLOAT = re.compile(r"^[+-]?(Inf|NaN|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$")


class Bad(Exception):
    pass


def parse_float(text):
    if not FLOAT.match(text):
        raise Bad(f"'{text}' is not a float")
    return float(text.replace("Inf", "inf").replace("NaN", "nan"))


def unescape(text, quote):
    """The text with its escapes read: \\\\ and \\n, and \\" in a label value."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt == "\\":
                out.append("\\")
            elif nxt == "n":
                out.append("\n")
            elif nxt == '"' and quote:
                out.append('"')
            else:
                raise Bad(f"bad escape '\\{nxt}'")
            i += 2
            continue
        if c == "\n" or (quote and c == '"'):
            raise Bad(f"unescaped {c!r}")
        out.append(c)
        i += 1
    return "".join(out)


def parse_labels(text):
    """The labels of '{a="x",b="y"}' (text without the braces) as a dict."""
    labels, i = {}, 0
    while i < len(text):
        m = re.compile(LABEL + '="').match(text, i)
        if not m:
            raise Bad(f"bad label at '{text[i:]}'")
        name = m.group(0)[:-2]
        if name.startswith("__"):
            raise Bad(f"label name '{name}' is reserved")
        j = m.end()
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        if j >= len(text):
            raise Bad("unterminated label value")
        if name in labels:
            raise Bad(f"label '{name}' twice")
        labels[name] = unescape(text[m.end() : j], True)
        i = j + 1
        if i < len(text):
            if text[i] != ",":
                raise Bad(f"',' expected at '{text[i:]}'")
            i += 1
            if i == len(text):
                raise Bad("a trailing comma")
    return labels


def parse_sample(line):
    m = re.match(r"^(" + METRIC + r")(\{(.*)\})? (\S+)$", line)
    if not m:
        raise Bad("not a sample: name, labels, one space, value (no timestamp)")
    return m.group(1), parse_labels(m.group(3) or ""), parse_float(m.group(4))


def key(name, labels):
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


class Family:
    def __init__(self, name):
        self.name, self.type, self.help, self.samples = name, None, None, []

    def owns(self, sample_name):
        if self.type == "histogram":
            return sample_name in (self.name + s for s in ("_bucket", "_sum", "_count"))
        if self.type == "summary":
            return sample_name in (self.name, self.name + "_sum", self.name + "_count")
        return sample_name == self.name


def check_histogram(fam):
    groups = {}
    for name, labels, value in fam.samples:
        rest = {k: v for k, v in labels.items() if k != "le"}
        g = groups.setdefault(key("", rest), {"buckets": [], "sum": None, "count": None})
        if name.endswith("_bucket"):
            if "le" not in labels:
                raise Bad(f"{fam.name}: a bucket without le")
            g["buckets"].append((parse_float(labels["le"]), value))
        elif "le" in labels:
            raise Bad(f"{fam.name}: le on {name}")
        elif name.endswith("_sum"):
            g["sum"] = value
        else:
            g["count"] = value
    for series, g in groups.items():
        bounds = [b for b, _ in g["buckets"]]
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise Bad(f"{fam.name}{series}: buckets out of order")
        counts = [c for _, c in g["buckets"]]
        if counts != sorted(counts):
            raise Bad(f"{fam.name}{series}: buckets not cumulative")
        if not bounds or bounds[-1] != math.inf:
            raise Bad(f"{fam.name}{series}: no +Inf bucket")
        if g["count"] is None or g["sum"] is None:
            raise Bad(f"{fam.name}{series}: no _count or no _sum")
        if g["count"] != counts[-1]:
            raise Bad(f"{fam.name}{series}: _count {g['count']} is not the +Inf bucket {counts[-1]}")


def comment(families, order, line):
    m = re.match(r"^# (HELP|TYPE) (" + METRIC + r") (.*)$", line)
    if not m:
        raise Bad("a comment that is not HELP or TYPE (with a name and text)")
    what, name, text = m.groups()
    if name in families and order[-1] != name:
        raise Bad(f"{name}: its family is not kept together")
    fam = families.setdefault(name, Family(name))
    if name not in order:
        order.append(name)
    if what == "HELP":
        if fam.help is not None:
            raise Bad(f"{name}: a second HELP")
        fam.help = unescape(text, False)
    else:
        if fam.type is not None:
            raise Bad(f"{name}: a second TYPE")
        if fam.samples:
            raise Bad(f"{name}: TYPE after its samples")
        if text not in TYPES:
            raise Bad(f"{name}: no type '{text}'")
        fam.type = text


def sample(families, order, seen, line):
    name, labels, value = parse_sample(line)
    fam = families.get(order[-1]) if order else None
    if not fam or not fam.owns(name):
        base = next((f for f in families.values() if f.owns(name)), None)
        if base:
            raise Bad(f"{name}: its family {base.name} is not kept together")
        raise Bad(f"{name}: a sample with no HELP and TYPE before it")
    if fam.type is None:
        raise Bad(f"{name}: a sample before its TYPE")
    k = key(name, labels)
    if k in seen:
        raise Bad(f"{k}: twice")
    seen[k] = value
    if fam.type == "counter" and not value >= 0:
        raise Bad(f"{k}: a counter at {value}")
    fam.samples.append((name, labels, value))


def check(text):
    """The families of text, and its series' values; raises Bad at the first fault."""
    families, order, seen = {}, [], {}
    if text and not text.endswith("\n"):
        raise Bad("the last line has no newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        try:
            if line.startswith("#"):
                comment(families, order, line)
            else:
                sample(families, order, seen, line)
        except Bad as e:
            raise Bad(f"line {n}: {e}: {line!r}")
    for fam in families.values():
        if fam.type is None or fam.help is None:
            raise Bad(f"{fam.name}: no HELP or no TYPE")
        if fam.type == "histogram":
            check_histogram(fam)
    return families, order, seen


def show(value):
    return str(int(value)) if math.isfinite(value) and value == int(value) else repr(value)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    raw = open(argv[1], "rb").read()
    try:
        families, order, seen = check(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        print(f"{argv[1]}: not UTF-8: {e}", file=sys.stderr)
        return 1
    except Bad as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 1
    args = argv[2:]
    while args:
        opt = args.pop(0)
        if opt == "--value":
            series = args.pop(0)
            name, labels, _ = parse_sample(series + " 0")
            value = seen.get(key(name, labels))
            if value is None:
                print(f"{argv[1]}: no series {series}", file=sys.stderr)
                return 1
            print(show(value))
        elif opt == "--sum":
            name = args.pop(0)
            total = sum(v for k, v in seen.items() if k.startswith(name + "{"))
            print(show(total))
        elif opt == "--families":
            for name in order:
                fam = families[name]
                print(name, fam.type, len(fam.samples))
        else:
            print(f"unknown option {opt}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
