// llama.cpp's side of Dokja's decode and prefill benchmarks: times
// node-llama-cpp's prebuilt llama.cpp (CPU, never built here) on GGUF files.
//
//   node speed.mjs THREADS PROMPT_TOKENS DECODE_TOKENS A.gguf B.gguf ...
//
// For each file: prefill of PROMPT_TOKENS in one batch, then DECODE_TOKENS
// greedy steps in llama.cpp's own loop (each computes the next-token
// logits: the output head is a large part of a small model's work, and
// llama.cpp skips it when no logits are asked for); the median of 3 runs,
// printed as one JSON line per file. The prefill figure includes the first
// decode step.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [threadsArg, promptArg, decodeArg, ...models] = process.argv.slice(2);
if (!models.length) {
    console.error("usage: node speed.mjs THREADS PROMPT_TOKENS DECODE_TOKENS MODEL.gguf...");
    process.exit(2);
}
const threads = Number(threadsArg), nPrompt = Number(promptArg), nDecode = Number(decodeArg);
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error, usePrebuiltBinaries: true});
for (const modelPath of models) {
    const model = await llama.loadModel({modelPath, gpuLayers: 0});
    const context = await model.createContext({
        contextSize: nPrompt + nDecode + 8, batchSize: nPrompt, threads, sequences: 1, flashAttention: false,
    });
    const seq = context.getSequence();
    const prompt = Array.from({length: nPrompt}, (_, i) => (i * 7919) % 256);
    const prefill = [], decode = [];
    for (let run = 0; run < 3; run++) {
        await seq.clearHistory();
        // The native generation loop: the first token comes after the
        // prefill (and one step), then one token per decode step, each with
        // logits computed and a greedy pick made in llama.cpp.
        let t0 = performance.now(), n = 0, tFirst = 0;
        for await (const _ of seq.evaluate(prompt, {temperature: 0})) {
            if (n === 0) {
                tFirst = performance.now();
                prefill.push(nPrompt / ((tFirst - t0) / 1000));
            }
            if (++n > nDecode) break;
        }
        decode.push(nDecode / ((performance.now() - tFirst) / 1000));
    }
    process.stdout.write(JSON.stringify({model: modelPath, threads, prefill_tokens_per_s: median(prefill), decode_tokens_per_s: median(decode)}) + "\n");
    await context.dispose();
    await model.dispose();
}
await llama.dispose();
