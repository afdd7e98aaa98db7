// Package eval scores language models on benchmarks the way EleutherAI's
// lm-evaluation-harness does: tasks turn data rows into prompts and
// answer choices, a Backend returns log-likelihoods of continuations
// (an in-process engine or any OpenAI-compatible server), and metrics
// (accuracy, macro F1, perplexity) are computed from per-item records
// that the report keeps.
//
// The built-in tasks are the five KoBEST tasks, read from the KoBEST TSV
// files, with lm-evaluation-harness's prompts, and perplexity over a text
// or JSON-lines file.
package eval
