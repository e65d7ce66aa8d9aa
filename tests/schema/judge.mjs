// The official @colyseus/schema packages as a judge for the Python tests.
//
// Reads one JSON request per line on stdin and writes one JSON reply per line:
//   {"cmd": "decode", "version": 3|4|5, "handshake": hex, "messages": [hex...],
//    "joins": [[at, hex], ...]}
//       -> {"states": [...], "refcounts": [...], "joined": [[states...]...], "warnings": [...]}
//     decodes the messages in order (state + refcounts after each); each join
//     starts a second decoder from a full state and feeds it the messages from
//     index `at` on.
//   {"cmd": "encode", "version": 3|4|5, "types", "root", "init": [ops], "steps": [[ops]...]}
//       -> {"handshake", "full", "patches": [...], "states": [...], "fulls": [...]}
//     runs the scenario with the JS encoder (state and full state after each step).
import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const PACKAGES = { 3: require("schema-v3"), 4: require("schema-v4"), 5: require("schema-v5") };

let warnings = [];
for (const level of ["warn", "error", "log", "info"]) {
    console[level] = (...args) => { warnings.push(args.map(String).join(" ").slice(0, 300)); };
}

function hex(buf) { return Buffer.from(buf).toString("hex"); }
function bytes(h) { return Buffer.from(h, "hex"); }

function toJSON(state) {
    return JSON.parse(JSON.stringify(state.toJSON(), (key, v) => {
        if (typeof v === "bigint") { return { bigint: String(v) }; }
        if (typeof v === "number" && !Number.isFinite(v)) {
            return { num: Number.isNaN(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity") };
        }
        return v;
    }));
}

const PRIMITIVES = new Set(["string", "number", "boolean", "int8", "uint8", "int16", "uint16", "int32",
    "uint32", "int64", "uint64", "float32", "float64", "bigint64", "biguint64"]);

function buildClasses(S, types) {
    const classes = {};
    const jsType = (t) => {
        if (typeof t === "string") { return PRIMITIVES.has(t) ? t : classes[t]; }
        const [kind, item] = Object.entries(t)[0];
        return { [kind]: jsType(item) };
    };
    for (const [name, spec] of Object.entries(types)) {
        const Base = spec.extends ? classes[spec.extends] : S.Schema;
        const C = ({ [name]: class extends Base {} })[name];
        const defs = {};
        for (const [field, t] of spec.fields) { defs[field] = jsType(t); }
        S.defineTypes(C, defs);
        classes[name] = C;
    }
    return classes;
}

function interpreter(S, classes, root) {
    const aliases = {};
    const value = (v) => {
        if (v === null || typeof v !== "object") { return v; }
        if ("num" in v) { return { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity, "-0": -0 }[v.num]; }
        if ("bigint" in v) { return BigInt(v.bigint); }
        if ("ref" in v) { return aliases[v.ref]; }
        let out;
        if ("new" in v) {
            out = new classes[v.new]();
            for (const [k, fv] of Object.entries(v.fields || {})) { out[k] = value(fv); }
        } else if ("map" in v) {
            out = new S.MapSchema();
            const entries = Array.isArray(v.map) ? v.map : Object.entries(v.map);
            for (const [k, iv] of entries) { out.set(k, value(iv)); }
        } else if ("array" in v) {
            out = new S.ArraySchema();
            for (const iv of v.array) { out.push(value(iv)); }
        } else if ("set" in v) {
            out = new S.SetSchema();
            for (const iv of v.set) { out.add(value(iv)); }
        } else {
            out = new S.CollectionSchema();
            for (const iv of v.collection) { out.add(value(iv)); }
        }
        if (v.as) { aliases[v.as] = out; }
        return out;
    };
    const get = (obj, key) => {
        if (obj instanceof S.MapSchema) { return obj.get(key); }
        if (obj instanceof S.ArraySchema || obj instanceof S.CollectionSchema) { return obj.at(Number(key)); }
        return obj[key];
    };
    const navigate = (path) => path.reduce(get, root);
    return (op) => {
        const path = op.path;
        if (op.op === "call") {
            const target = navigate(path);
            const args = (op.args || []).map(value);
            if (op.method === "sort") { target.sort((a, b) => b - a); }
            else { target[op.method](...args); }
            return;
        }
        const parent = navigate(path.slice(0, -1));
        const key = path[path.length - 1];
        const del = op.op === "delete" || op.value === null;
        if (parent instanceof S.MapSchema) {
            if (del) { parent.delete(key); } else { parent.set(key, value(op.value)); }
        } else if (parent instanceof S.ArraySchema) {
            if (del) { parent.splice(Number(key), 1); } else { parent[Number(key)] = value(op.value); }
        } else {
            parent[key] = del ? undefined : value(op.value);
        }
    };
}

function decode(req) {
    const S = PACKAGES[req.version];
    const decoder = S.Reflection.decode(bytes(req.handshake));
    const states = [];
    const refcounts = [];
    for (const m of req.messages) {
        decoder.decode(bytes(m));
        states.push(toJSON(decoder.state));
        refcounts.push({ ...decoder.root.refCount });
    }
    const joined = [];
    for (const [at, full] of req.joins || []) {
        const late = S.Reflection.decode(bytes(req.handshake));
        late.decode(bytes(full));
        const seq = [toJSON(late.state)];
        for (const m of req.messages.slice(at)) {
            late.decode(bytes(m));
            seq.push(toJSON(late.state));
        }
        joined.push(seq);
    }
    return { states, refcounts, joined };
}

function encode(req) {
    const S = PACKAGES[req.version];
    const classes = buildClasses(S, req.types);
    const state = new classes[req.root]();
    const apply = interpreter(S, classes, state);
    for (const op of req.init) { apply(op); }
    const encoder = new S.Encoder(state);
    const handshake = hex(S.Reflection.encode(encoder));
    const full = hex(encoder.encodeAll());
    const first = hex(encoder.encode());
    encoder.discardChanges();
    const patches = [], states = [], fulls = [];
    for (const ops of req.steps) {
        for (const op of ops) { apply(op); }
        patches.push(hex(encoder.encode()));
        encoder.discardChanges();
        states.push(toJSON(state));
        fulls.push(hex(encoder.encodeAll()));
    }
    return { handshake, full, first, patches, states, fulls };
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
    warnings = [];
    let reply;
    try {
        const req = JSON.parse(line);
        reply = req.cmd === "decode" ? decode(req) : encode(req);
    } catch (e) {
        reply = { error: String(e && e.stack || e) };
    }
    reply.warnings = warnings;
    process.stdout.write(JSON.stringify(reply) + "\n");
});
