// Node.js http peer for bench/proto/run: GET / answers the same greeting
// as examples/http.lua. Usage: node http_node.js PORT
const http = require('http');
const body = 'hello from moonwire\n';
const port = Number(process.argv[2] || 0);
http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
}).listen(port, '127.0.0.1', function () {
  console.error('listening on 127.0.0.1:' + this.address().port);
});
