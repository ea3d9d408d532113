#!/usr/bin/env python3
"""A command of N one-byte arguments (EXISTS k k k ..., 7 MB for a million),
to a RESP server on a unix socket, for bench/resp/run. Loopback only.

usage: bigcmd.py SOCKET once N REPEAT
         sends the command REPEAT times, each in one sendall, and waits for
         each reply
       bigcmd.py SOCKET pieces N PIECE
         sends it in PIECE-byte writes on one connection, and after each
         write a PING on a second connection, answered before the next write
         goes: the server reads the command in that many pieces while
         another client waits on it; the PINGs' round trips are timed
Prints one line: RESULT reply=R [pieces=P pongs=Q ping_p50_us=.. ping_p99_us=..
ping_max_us=..] wall_s=W"""
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(600)
    s.connect(path)
    return s


def read_line(s, buf):
    """One CRLF-ended line from s, with what followed it kept in buf."""
    while b"\r\n" not in buf[0]:
        more = s.recv(65536)
        if not more:
            raise EOFError("connection closed")
        buf[0] += more
    line, buf[0] = buf[0].split(b"\r\n", 1)
    return line.decode()


def command(n):
    return b"*%d\r\n$6\r\nEXISTS\r\n" % (n + 1) + b"$1\r\nk\r\n" * n


def once(path, n, repeat):
    cmd, s, buf = command(n), connect(path), [b""]
    replies = set()
    for _ in range(repeat):
        s.sendall(cmd)
        replies.add(read_line(s, buf))
    return "reply=%s" % ("|".join(sorted(replies)))


def pieces(path, n, piece):
    cmd, big, ping = command(n), connect(path), connect(path)
    bbuf, pbuf, rtts, count = [b""], [b""], [], 0
    for at in range(0, len(cmd), piece):
        big.sendall(cmd[at:at + piece])
        count += 1
        t0 = time.perf_counter()
        ping.sendall(b"PING\r\n")
        if read_line(ping, pbuf) != "+PONG":
            break
        rtts.append((time.perf_counter() - t0) * 1e6)
    reply = read_line(big, bbuf)
    rtts.sort()
    pick = lambda q: rtts[min(len(rtts) - 1, int(q * len(rtts)))] if rtts else float("nan")
    return ("reply=%s pieces=%d pongs=%d ping_p50_us=%.0f ping_p99_us=%.0f ping_max_us=%.0f" %
            (reply, count, len(rtts), pick(0.5), pick(0.99), rtts[-1] if rtts else float("nan")))


def main():
    path, mode, n, arg = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    t0 = time.perf_counter()
    out = once(path, n, arg) if mode == "once" else pieces(path, n, arg)
    print("RESULT %s wall_s=%.3f" % (out, time.perf_counter() - t0))


main()
