// llama.cpp's side of Dokja's constrained-decoding benchmark: times
// node-llama-cpp's prebuilt llama.cpp (CPU, never built here) generating
// from a GGUF file with and without a JSON-schema grammar (llama.cpp's
// json-schema-to-grammar and grammar sampler).
//
//   node grammar.mjs THREADS TOKENS MODEL.gguf SCHEMA.json
//
// Each mode generates TOKENS tokens greedily after a short prompt; under
// the grammar, a finished object starts a new one from a fresh sequence
// (the end token that finishes it counts). Prints one JSON line per mode
// with milliseconds per token, the median of 3 runs.
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel, LlamaGrammarEvaluationState} from "node-llama-cpp";

const [threadsArg, tokensArg, modelPath, schemaPath] = process.argv.slice(2);
if (!schemaPath) {
    console.error("usage: node grammar.mjs THREADS TOKENS MODEL.gguf SCHEMA.json");
    process.exit(2);
}
const threads = Number(threadsArg), nTokens = Number(tokensArg);
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error, usePrebuiltBinaries: true});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const grammar = await llama.createGrammarForJsonSchema(JSON.parse(readFileSync(schemaPath, "utf8")));
const context = await model.createContext({contextSize: nTokens + 64, batchSize: 64, threads, sequences: 1, flashAttention: false});
const prompt = model.tokenize("JSON: ");
const run = async (withGrammar) => {
    let n = 0, objects = 0;
    const start = performance.now();
    while (n < nTokens) {
        const seq = context.getSequence();
        await seq.clearHistory();
        const state = withGrammar ? new LlamaGrammarEvaluationState({model, grammar}) : undefined;
        for await (const tok of seq.evaluate(prompt, {temperature: 0, grammarEvaluationState: state})) {
            n++;
            if (n >= nTokens) break;
            if (withGrammar && model.isEogToken(tok)) break;
        }
        seq.dispose();
        objects++;
    }
    return {ms: (performance.now() - start) / n, objects};
};
for (const mode of ["unconstrained", "json_schema"]) {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await run(mode === "json_schema"));
    process.stdout.write(JSON.stringify({mode, ms_per_token: median(runs.map((r) => r.ms)), objects: runs[0].objects, tokens: nTokens}) + "\n");
}
await context.dispose();
await model.dispose();
