#!/usr/bin/env node
// Builds the console page into dist/web: web/src/main.ts bundled with uPlot (and its CSS) into app.js and
// app.css, next to index.html and the icon. Type-checking is `tsc -p web/tsconfig.json`, run before this by
// `npm run build:web`. Everything the page needs is in those files: no CDN, nothing fetched at run time.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const web = __dirname;
const out = path.join(web, '..', 'dist', 'web');

async function main() {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(web, 'src', 'main.ts') },
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    outdir: out,
    legalComments: 'eof',
    metafile: true,
    // Served next to app.css, not inlined.
    external: ['/favicon.svg'],
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'favicon.svg']) fs.copyFileSync(path.join(web, f), path.join(out, f));
  const sizes = Object.entries(result.metafile.outputs).map(([f, o]) => `${path.basename(f)} ${(o.bytes / 1024).toFixed(1)} KiB`);
  console.log(`build:web: ${path.relative(process.cwd(), out)}: ${sizes.join(', ')}`);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
