/*  vegalite.js - Vega-Lite specs through the libraries JupyterLab and VS
    Code render them with: vega-lite compiles each to Vega, vega draws it
    to SVG. Run by tests/test_frontends.py.

    Usage: node vegalite.js SPECS.json   (a JSON array of Vega-Lite specs)
    Prints a JSON array, one entry per spec: { warnings, error, marks },
    marks being how many shapes the SVG holds.
*/

'use strict';

const fs = require('fs');
const vl = require('vega-lite');
const vega = require('vega');

//  Collects what the libraries would log in a front end's console
function logger (into) {
    let level = 0;
    const self = {
        level (value) { if (value === undefined) return level; level = value; return self; },
        error (...args) { into.push('error: ' + args.join(' ')); return self; },
        warn (...args) { into.push('warn: ' + args.join(' ')); return self; },
        info () { return self; },
        debug () { return self; },
    };
    return self;
}

async function render (spec) {
    const result = { warnings: [], error: null, marks: 0 };
    try {
        const compiled = vl.compile(spec, { logger: logger(result.warnings) }).spec;
        const view = new vega.View(vega.parse(compiled), {
            renderer: 'none', logger: logger(result.warnings) });
        const svg = await view.toSVG();
        view.finalize();
        result.marks = (svg.match(/<(path|rect|line|text)\b/g) || []).length;
    } catch (err) {
        result.error = String(err && err.message || err);
    }
    return result;
}

async function main () {
    const specs = JSON.parse(fs.readFileSync(process.argv [2], 'utf8'));
    const results = [];
    for (const spec of specs)
        results.push(await render(spec));
    process.stdout.write(JSON.stringify(results) + '\n');
}

main().catch(err => {
    process.stderr.write(String(err && err.stack || err) + '\n');
    process.exit(1);
});
