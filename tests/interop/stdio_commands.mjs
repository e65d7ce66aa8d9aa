// The request loop of the driver scripts (js_client.mjs, browser.mjs): one JSON request per line
// on stdin, {"id", "cmd", ...}; one reply per line on stdout, {"id", "ok": true, "result"} or
// {"id", "ok": false, "error": describe(e)}.
import readline from "node:readline";

export function serveCommands(commands, describe, onClose) {
    const rl = readline.createInterface({ input: process.stdin, terminal: false });
    rl.on("line", async (line) => {
        const req = JSON.parse(line);
        let reply;
        try {
            reply = { id: req.id, ok: true, result: await commands[req.cmd](req) ?? null };
        } catch (e) {
            reply = { id: req.id, ok: false, error: describe(e) };
        }
        process.stdout.write(JSON.stringify(reply) + "\n");
    });
    if (onClose) {
        rl.on("close", onClose);
    }
}
