# redis_across.py PORT SECONDS: a redis-py client (one pooled connection)
# sending ECHO for SECONDS while the server reloads; prints
# "commands: N, errors: E, wrong: W" and the first error, if any.
import sys
import time

import redis

port, seconds = int(sys.argv[1]), float(sys.argv[2])
r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
n = errors = wrong = 0
first = None
end = time.time() + seconds
while time.time() < end:
    msg = "m%d" % n
    try:
        if r.echo(msg) != msg.encode():
            wrong += 1
    except redis.RedisError as e:
        errors += 1
        first = first or repr(e)
    n += 1
print("commands: %d, errors: %d, wrong: %d" % (n, errors, wrong))
if first:
    print("first error: " + first)
