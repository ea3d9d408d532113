#!/usr/bin/env python3
"""resp_replies.py PORT|SOCKET SCRIPT: sends each command of SCRIPT to
127.0.0.1:PORT (or the unix socket SOCKET), one at a time, and prints one
line per command: the command, a tab, and its raw RESP reply with CR, LF,
backslash and non-printable bytes escaped (\\r \\n \\\\ \\xNN).

SCRIPT has one command a line, split as a shell would (quotes, backslashes);
blank lines and lines starting with # are skipped. A line starting with "~ "
is a command whose reply is an array in no defined order (SMEMBERS, KEYS):
its elements are put in byte order before printing, so two servers that
agree on the elements print the same line. "~2 " sorts pairs of elements
(a hash's field and value) by the first of each pair. A line starting with
"? " is a command whose reply is random (SPOP of one member of many): only
its first line (its type and length) is printed."""
import shlex
import socket
import sys


def command(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode("utf-8", "surrogateescape")
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the server closed the connection")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        at = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:at], self.buf[at:]
        return line

    def exactly(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    # One reply: its bytes, and its elements' bytes when it is an array.
    def reply(self):
        head = self.line()
        kind, n = head[:1], head[1:-2]
        if kind == b"$" and int(n) >= 0:
            return head + self.exactly(int(n) + 2), None
        if kind == b"*" and int(n) >= 0:
            elements = [self.reply()[0] for _ in range(int(n))]
            return head + b"".join(elements), elements
        return head, None


def escape(raw):
    out = []
    for c in raw:
        if c == 0x5C:
            out.append("\\\\")
        elif c == 0x0D:
            out.append("\\r")
        elif c == 0x0A:
            out.append("\\n")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def sorted_reply(raw, elements, group):
    if elements is None:
        return raw
    head = raw[: raw.index(b"\r\n") + 2]
    groups = [b"".join(elements[i : i + group]) for i in range(0, len(elements), group)]
    return head + b"".join(sorted(groups))


def main():
    where, script = sys.argv[1], sys.argv[2]
    if where.isdigit():
        sock = socket.create_connection(("127.0.0.1", int(where)), timeout=10)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(10)
        sock.connect(where)
    reader = Reader(sock)
    with open(script, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            group, text = 0, line
            if line.startswith("~ "):
                group, text = 1, line[2:]
            elif line.startswith("~2 "):
                group, text = 2, line[3:]
            elif line.startswith("? "):
                text = line[2:]
            sock.sendall(command(shlex.split(text)))
            raw, elements = reader.reply()
            if group:
                raw = sorted_reply(raw, elements, group)
            elif line.startswith("? "):
                raw = raw[: raw.index(b"\r\n") + 2]
            print("%s\t%s" % (line, escape(raw)), flush=True)


if __name__ == "__main__":
    main()
