/*  drive.js - a person at classic Notebook, played by headless Chromium

    Run by tests/test_browser.py, which starts the Notebook server. Opens
    one tutorial, runs all cells from the Cell menu, then in new cells at
    the end tries Tab completion, a job and the interrupt button. It reads
    what the page shows and prints one JSON report on stdout; the test
    asserts on it. A wait that times out saves a screenshot and exits 1.

    Environment:
      WB_URL         the server's base URL, e.g. http://127.0.0.1:PORT
      WB_TOKEN       its token
      WB_NOTEBOOK    the notebook to open (a name in the server's folder)
      WB_LIVE_CELL   the source of the cell whose display updates in place
      WB_SHOTS       a folder for screenshots (one per step, and error.png)
      WB_README_SHOT if set, where to save the picture for the README
      WB_CHROMIUM    the browser (default /usr/bin/chromium)
*/

'use strict';

const path = require('path');
const { chromium } = require('playwright-core');

const env = (name, fallback) => {
    const value = process.env[name] || fallback;
    if (value === undefined)
        throw new Error(`drive.js: ${name} is not set`);
    return value;
};

const URL = env('WB_URL');
const TOKEN = env('WB_TOKEN');
const NOTEBOOK = env('WB_NOTEBOOK');
const LIVE_CELL = env('WB_LIVE_CELL');
const SHOTS = env('WB_SHOTS');
const README_SHOT = process.env.WB_README_SHOT || '';
const CHROMIUM = env('WB_CHROMIUM', '/usr/bin/chromium');

const IDLE = '#kernel_indicator_icon.kernel_idle_icon';
const BUSY = '#kernel_indicator_icon.kernel_busy_icon';
const INTERRUPT = 'button[data-jupyter-action="jupyter-notebook:interrupt-kernel"]';

const report = { steps: {} };
let page = null;
let step = 'start';
let started = Date.now();

//  Each step is timed; the page is photographed after it
async function run (name, body) {
    step = name;
    started = Date.now();
    const result = await body ();
    report.steps [name] = { ms: Date.now() - started };
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
    return result;
}

//  The text of a code cell's editor, line by line, as the page shows it
function cellText (cell) {
    return Array.from(cell.querySelectorAll('.input .CodeMirror-line'))
        .map(line => line.textContent.replace(/\u200b/g, '')).join('\n');
}

//  In the page: watch a cell's outputs, keeping after every change how
//  many output areas it holds and what they say (window.wbWatched [name])
function watchCell (cell, name) {
    const log = window.wbWatched [name] = { found: !!cell, snapshots: [] };
    if (!cell)
        return;
    const output = cell.querySelector('.output');
    new MutationObserver(() => {
        const areas = output.querySelectorAll('.output_area').length;
        const text = output.textContent.trim();
        const last = log.snapshots [log.snapshots.length - 1];
        if (!last || last.areas !== areas || last.text !== text)
            log.snapshots.push({ areas, text });
    }).observe(output, { childList: true, subtree: true, characterData: true });
}

//  Type into a new code cell below the last one (command mode: Esc, b)
async function newCell (source) {
    const cells = page.locator('#notebook-container .cell');
    const before = await cells.count();
    await cells.last().click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('b');
    await page.waitForFunction(n => document.querySelectorAll(
        '#notebook-container .cell').length === n + 1, before);
    await page.keyboard.press('Enter');
    const cell = cells.nth(before);
    const lines = source.split('\n');
    for (let i = 0; i < lines.length; i++) {
        if (i > 0)
            await page.keyboard.press('Enter');
        await page.keyboard.type(lines [i]);
    }
    return cell;
}

async function main () {
    const args = [];
    if (process.getuid && process.getuid() === 0)
        args.push('--no-sandbox');          //  Chromium refuses root otherwise
    const browser = await chromium.launch({
        executablePath: CHROMIUM, headless: true, args, timeout: 30000 });
    try {
        page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
        page.setDefaultTimeout(30000);
        page.on('dialog', dialog => dialog.dismiss());

        await run('open', async () => {
            await page.goto(`${URL}/notebooks/${NOTEBOOK}?token=${TOKEN}`);
            await page.waitForSelector(IDLE);
            report.kernel_name = (await page.locator(
                '.kernel_indicator_name').textContent()).trim();
        });
        await page.evaluate(`window.wbCellText = ${cellText.toString()};
                             window.wbWatchCell = ${watchCell.toString()};
                             window.wbWatched = {};`);

        //  Watch the live cell's outputs while everything runs
        await page.evaluate(source => window.wbWatchCell(Array.from(
            document.querySelectorAll('#notebook-container .code_cell')).find(
                c => window.wbCellText(c).trim() === source), 'run'), LIVE_CELL);

        await run('run-all', async () => {
            await page.click('#celllink');
            await page.click('#run_all_cells');
            //  done when every code cell shows a count and the kernel is idle
            await page.waitForFunction(() => {
                const prompts = Array.from(document.querySelectorAll(
                    '#notebook-container .code_cell .input_prompt'));
                const icon = document.querySelector('#kernel_indicator_icon');
                return prompts.length > 0
                    && prompts.every(p => /\[\d+\]/.test(p.textContent))
                    && icon && icon.classList.contains('kernel_idle_icon');
            }, null, { timeout: 60000, polling: 200 });
        });

        //  What the page shows now
        report.page = await page.evaluate(() => {
            const areas = Array.from(document.querySelectorAll(
                '#notebook-container .output_area'));
            return {
                code_cells: document.querySelectorAll('#notebook-container .code_cell').length,
                output_areas: areas.length,
                errors: Array.from(document.querySelectorAll('.output_area .output_error'))
                    .map(e => e.textContent.slice(0, 500)),
                tables: areas.filter(a => a.querySelector('.output_html table')).length,
                table_headers: Array.from(document.querySelectorAll(
                    '.output_area .output_html table th')).map(th => th.textContent.trim()),
                svgs: areas.filter(a => a.querySelector('.output_svg svg')).length,
                svg_lines: document.querySelectorAll(
                    '.output_area .output_svg svg polyline, .output_area .output_svg svg path').length,
            };
        });
        report.live = await page.evaluate(() => window.wbWatched.run);

        //  A picture for the README: the last cell that drew a chart, on a
        //  page tall enough to hold all of it
        if (README_SHOT) {
            await page.setViewportSize({ width: 1000, height: 2000 });
            const chart = page.locator('#notebook-container .code_cell',
                { has: page.locator('.output_svg svg') }).last();
            await chart.scrollIntoViewIfNeeded();
            await chart.screenshot({ path: README_SHOT });
            await page.setViewportSize({ width: 1100, height: 900 });
        }

        await run('complete', async () => {
            const cell = await newCell('%tra');
            await page.keyboard.press('Tab');
            //  one match is inserted at once; several open a list
            const handle = await cell.elementHandle();
            await page.waitForFunction(c => window.wbCellText(c) !== '%tra'
                || document.querySelector('#complete option'), handle);
            report.completion = await page.evaluate(c => ({
                text: window.wbCellText(c),
                offered: Array.from(document.querySelectorAll('#complete option'))
                    .map(o => o.textContent),
            }), handle);
            await page.keyboard.press('Escape');
        });

        //  A job's card: queued, running, completed, in one output area
        await run('job', async () => {
            const cell = await newCell(
                '%%job --name browser-job\nfor i in 1 2 3; do echo step $i; sleep 0.4; done');
            await page.evaluate(c => window.wbWatchCell(c, 'job'), await cell.elementHandle());
            await page.keyboard.press('Shift+Enter');
            await cell.locator('.input_prompt', { hasText: /\[\d+\]/ }).waitFor();
            await page.waitForSelector(IDLE);
            report.job = await page.evaluate(() => window.wbWatched.job);
        });

        await run('interrupt', async () => {
            const cell = await newCell('%%bash\nsleep 60');
            await page.keyboard.press('Shift+Enter');
            await page.waitForSelector(BUSY);
            await page.waitForTimeout(1000);         //  let sleep start
            const clicked = Date.now();
            await page.click(INTERRUPT);
            //  stopped: the cell got its reply (a count in place of *)
            await cell.locator('.input_prompt', { hasText: /\[\d+\]/ })
                .waitFor({ timeout: 20000 });
            await page.waitForSelector(IDLE);
            report.interrupt = {
                ms: Date.now() - clicked,
                prompt: (await cell.locator('.input_prompt').textContent()).trim(),
                output: (await cell.locator('.output').textContent()).trim().slice(0, 500),
            };
        });
    } catch (err) {
        report.failed = { step, message: String(err && err.message || err) };
        if (page)
            await page.screenshot({ path: path.join(SHOTS, 'error.png'), fullPage: true })
                .catch(e => { report.failed.screenshot = String(e.message || e); });
    } finally {
        await browser.close();
    }
}

main().catch(err => {
    report.failed = report.failed || { step, message: String(err && err.message || err) };
}).then(() => {
    process.stdout.write(JSON.stringify(report) + '\n');
    process.exitCode = report.failed? 1: 0;
});
