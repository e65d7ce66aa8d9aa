// A real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core pinned in
// tests/package-lock.json), driven by the Python tests over stdin/stdout like js_client.mjs:
// one JSON request per line {"id", "cmd", ...}, one reply per line {"id", "ok", "result"|"error"}.
// Console errors and page errors are recorded for the "errors" command.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { serveCommands } from "./stdio_commands.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "package.json"));
const { chromium } = require("playwright-core");

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
const errors = [];
page.on("console", (message) => { if (message.type() === "error") errors.push(message.text()); });
page.on("pageerror", (error) => errors.push(String(error)));
page.setDefaultTimeout(10000);

const commands = {
    async open({ url }) { await page.goto(url); return page.url(); },
    async waitText({ selector, text }) {
        await page.locator(selector, { hasText: text }).first().waitFor();
        return await page.locator(selector, { hasText: text }).first().textContent();
    },
    async waitGone({ selector, text }) {
        await page.locator(selector, { hasText: text }).first().waitFor({ state: "detached" });
        return null;
    },
    async click({ selector, text }) {
        await page.locator(selector, text === undefined ? {} : { hasText: text }).first().click();
        return null;
    },
    async fill({ selector, value }) { await page.locator(selector).first().fill(value); return null; },
    async select({ selector, value }) { await page.locator(selector).first().selectOption(value); return null; },
    async waitAttribute({ selector, name, value }) {
        await page.locator(`${selector}[${name}="${value}"]`).first().waitFor();
        return null;
    },
    async text({ selector }) { return await page.locator(selector).first().textContent(); },
    async screenshot({ file }) { await page.screenshot({ path: file, fullPage: true }); return file; },
    async errors() { return errors; },
    async close() { await browser.close(); return null; },
};

serveCommands(commands, (e) => ({ name: e.name, message: String(e.message || e) }),
              async () => { await browser.close(); process.exit(0); });
