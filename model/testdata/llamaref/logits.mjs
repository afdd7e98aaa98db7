// Prints llama.cpp's next-token logits for GGUF files and a prompt of
// token ids, through node-llama-cpp's prebuilt llama.cpp (CPU only; never
// builds llama.cpp). Used by TestMatchesLlamaCpp in package model.
//
//   node logits.mjs 1,5,7,9 A.gguf B.gguf ...
//
// Output: first {"backend": NAME}, the CPU variant ggml loaded (its
// libggml-cpu-NAME.so: haswell is the AVX2 build, skylakex, icelake,
// sapphirerapids and zen4 AVX-512 ones; ggml picks the best the CPU runs
// among those installed), then one JSON line per file, {"model": PATH,
// "logits": [[...], ...]}, a row per prompt position (the distribution
// after tokens 0..t), each indexed by token id. The KV cache is F32 and
// flash attention is off, so that F32 files compute in float32
// throughout.
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [ids, ...models] = process.argv.slice(2);
if (!ids || models.length === 0) {
    console.error("usage: node logits.mjs ID,ID,... MODEL.gguf...");
    process.exit(2);
}
const tokens = ids.split(",").map(Number);
const logger = (level, message) => {
    if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) console.error(message);
};
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.warn, logger, usePrebuiltBinaries: true});
// The CPU library ggml loaded is mapped into this process (linux-x64 is
// the only platform the harness installs); its log line would arrive
// asynchronously, this is certain.
const mapped = new Set([...readFileSync("/proc/self/maps", "utf8").matchAll(/libggml-cpu-([A-Za-z0-9_]+)\.so/g)].map((m) => m[1]));
if (mapped.size !== 1) throw new Error(`want one libggml-cpu-*.so mapped into this process, have [${[...mapped]}]`);
const [backend] = mapped;
process.stdout.write(JSON.stringify({backend}) + "\n");
for (const modelPath of models) {
    const model = await llama.loadModel({modelPath, gpuLayers: 0});
    const context = await model.createContext({
        contextSize: Math.max(64, tokens.length + 8), batchSize: Math.max(64, tokens.length), threads: 1, sequences: 1,
        flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    const out = await context.getSequence().controlledEvaluate(tokens.map((t) => [t, {generateNext: {logits: true}}]));
    const logits = tokens.map((_, i) => {
        const m = out[i]?.next?.logits;
        if (!m) throw new Error(`${modelPath}: no logits at position ${i}`);
        const row = [];
        for (const [t, v] of m) row[t] = v;
        return row;
    });
    process.stdout.write(JSON.stringify({model: modelPath, logits}) + "\n");
    await context.dispose();
    await model.dispose();
}
await llama.dispose();
