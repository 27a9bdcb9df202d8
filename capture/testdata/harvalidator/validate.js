// Usage: node validate.js FILE.har...
// Exits 0 when every FILE is a valid HAR 1.2 document per har-validator,
// 1 (printing the schema errors) otherwise.
'use strict';
const fs = require('fs');
const validate = require('har-validator');

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.js FILE.har...');
  process.exit(2);
}

async function check(file) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch (e) {
    console.error(`${file}: not JSON: ${e.message}`);
    return false;
  }
  try {
    await validate.har(doc);
    return true;
  } catch (err) {
    console.error(`${file}: ${err.message}`);
    for (const e of err.errors || []) {
      console.error(`  ${e.dataPath || e.instancePath || ''} ${e.message} ${JSON.stringify(e.params || {})}`);
    }
    return false;
  }
}

(async () => {
  let ok = true;
  for (const f of files) {
    ok = (await check(f)) && ok;
  }
  process.exit(ok ? 0 : 1);
})();
