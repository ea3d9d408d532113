#!/usr/bin/env python3
"""How late a deadline is raised: N connections in turn each send one line to
bench/deadline/runaway.lua (a 20 ms deadline) and time send -> close; the
lateness is that time minus the deadline. Loopback only.
usage: late.py PORT [N] [DEADLINE_MS]"""
import socket, sys, time

port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
deadline = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
late = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    t0 = time.perf_counter()
    s.sendall(b"go\n")
    while s.recv(4096):
        pass
    late.append((time.perf_counter() - t0) * 1000 - deadline)
    s.close()
late.sort()
pick = lambda q: late[min(len(late) - 1, int(q * len(late)))]
print("RESULT n=%d p50=%.2f p90=%.2f p99=%.2f max=%.2f min=%.2f" %
      (len(late), pick(0.5), pick(0.9), pick(0.99), late[-1], late[0]))
