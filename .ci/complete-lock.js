#!/usr/bin/env node
// Restores the lock entries of other platforms' optional packages (rollup, @napi-rs/* native builds).
// Why: the registry mirror these machines use lacks some versions of those per-platform packages, so
// `npm install` silently leaves them out of package-lock.json, and `npm ci` then refuses the lock as out of
// sync. They are never installed on this platform (npm skips optional packages it cannot use), so an entry
// naming the version is all the lock needs. Run after `npm install` changes the lock.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
let added = 0;
for (const [where, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    // npm resolves a dependency next to its dependent first, then at the top level.
    const nested = `${where ? `${where}/` : ''}node_modules/${name}`;
    const top = `node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[top]) continue;
    lock.packages[top] = { version, dev: pkg.dev, optional: true };
    added++;
  }
}
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lock: restored ${added} optional entries`);
