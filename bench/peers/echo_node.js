// echo_node: the Node.js peer, a `net` echo server as Node's documentation
// writes one. Usage: node echo_node.js -l HOST:PORT (port 0: any free port).
'use strict';
const net = require('net');

function parseListen(argv) {
  const i = argv.indexOf('-l');
  const m = i >= 0 && /^(.+):(\d+)$/.exec(argv[i + 1] || '');
  if (!m) {
    process.stderr.write('usage: node echo_node.js -l HOST:PORT\n');
    process.exit(2);
  }
  return { host: m[1], port: Number(m[2]) };
}

const where = parseListen(process.argv);
const server = net.createServer({ noDelay: true }, (sock) => {
  sock.on('data', (chunk) => sock.write(chunk));
  sock.on('error', () => sock.destroy());
});
server.on('error', (err) => {
  process.stderr.write(`echo_node: listen: ${err.message}\n`);
  process.exit(1);
});
server.listen({ host: where.host, port: where.port, backlog: 4096 }, () => {
  const a = server.address();
  process.stderr.write(`echo_node: listening on ${a.address}:${a.port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
