#!/usr/bin/env node
// Minimal solc CLI over npm `solc` (soljson): speaks `--version` and `--standard-json`
// the way native solc does, so py-solc-x (solc_binary=) and `forge build --use` can drive it.
"use strict";
const path = require("path");
const solc = require(path.join(__dirname, "..", "node_modules", "solc"));

function version() {
  // native format: "solc, the solidity compiler commandline interface\nVersion: 0.8.30+commit.xxxx.Linux.g++"
  const v = solc.version().replace(".Emscripten.clang", ".Linux.g++");
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${v}\n`);
}

function readStdin() {
  return require("fs").readFileSync(0, "utf8");
}

function standardJson(args) {
  const basePath = valueOf(args, "--base-path");
  const allowPaths = (valueOf(args, "--allow-paths") || "").split(",").filter(Boolean);
  const includePaths = [];
  for (let i = 0; i < args.length; i++) if (args[i] === "--include-path") includePaths.push(args[i + 1]);
  const roots = [basePath || process.cwd(), ...includePaths, ...allowPaths, process.cwd()];
  const fs = require("fs");
  function findImports(p) {
    const candidates = path.isAbsolute(p) ? [p] : roots.map((r) => path.resolve(r, p));
    for (const c of candidates) {
      if (fs.existsSync(c)) return { contents: fs.readFileSync(c, "utf8") };
    }
    return { error: `File not found: ${p}` };
  }
  const out = solc.compile(readStdin(), { import: findImports });
  process.stdout.write(out);
}

function valueOf(args, flag) {
  const i = args.indexOf(flag);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  const pre = args.find((a) => a.startsWith(flag + "="));
  return pre ? pre.slice(flag.length + 1) : undefined;
}

const args = process.argv.slice(2);
if (args.includes("--version")) version();
else if (args.includes("--standard-json")) standardJson(args);
else {
  process.stderr.write("solc-wrapper: only --version and --standard-json are supported\n");
  process.exit(2);
}
