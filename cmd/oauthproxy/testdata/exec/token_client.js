// A token request with Node's fetch or https.request (argv[2]), run by
// exec_test.go. No proxy, agent or CA is given in code.
'use strict';
const [, , lib, url] = process.argv;
const form = 'grant_type=client_credentials&client_id=app&client_secret=' + process.env.CANARY_SECRET;
const headers = { 'content-type': 'application/x-www-form-urlencoded' };
const report = (status, body) => console.log(`${lib} status=${status} token=${body.includes('access_token')}`);
const fail = (e) => { console.error(`${lib} failed:`, e && (e.cause || e)); process.exit(1); };
if (lib === 'fetch') {
  fetch(url, { method: 'POST', headers, body: form })
    .then(async (r) => report(r.status, await r.text()))
    .catch(fail);
} else {
  const req = require('https').request(url, { method: 'POST', headers }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { body += d; });
    res.on('end', () => report(res.statusCode, body));
  });
  req.on('error', fail);
  req.end(form);
}
