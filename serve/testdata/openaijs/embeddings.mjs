// The official OpenAI JavaScript client (npm openai) asks a Dokja server
// for embeddings, for TestEmbeddingsJSClient in package serve.
//
//   node embeddings.mjs BASE_URL MODEL
//
// Sends two token-id inputs, once as floats and once as base64 (which the
// client decodes itself), and prints {"float": [[...], ...], "base64": [[...], ...]}.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
if (!model) {
    console.error("usage: node embeddings.mjs BASE_URL MODEL");
    process.exit(2);
}
const client = new OpenAI({baseURL, apiKey: "none", maxRetries: 0});
const input = [[0, 17, 42, 2], [0, 5, 2]];
const f = await client.embeddings.create({model, input, encoding_format: "float"});
const b = await client.embeddings.create({model, input});
process.stdout.write(JSON.stringify({float: f.data.map((d) => d.embedding), base64: b.data.map((d) => d.embedding)}) + "\n");
