// The official OpenAI JavaScript client (npm openai) against a Dokja
// server, for TestOpenAIJSClient in package serve: tool calls, streamed
// tool calls assembled by the client's own stream helper, and a JSON
// schema response.
//
//   node tools.mjs BASE_URL MODEL
//
// Prints one JSON line per request: {"case": ..., "finish_reason": ...,
// "tool_calls": [{"id", "name", "arguments"}], "content": ...}.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
if (!model) {
    console.error("usage: node tools.mjs BASE_URL MODEL");
    process.exit(2);
}
const client = new OpenAI({baseURL, apiKey: "none", maxRetries: 0});
const tools = [{
    type: "function",
    function: {
        name: "get_weather",
        description: "도시의 날씨",
        parameters: {
            type: "object",
            properties: {city: {type: "string", maxLength: 10}, unit: {type: "string", enum: ["celsius", "fahrenheit"]}},
            required: ["city", "unit"],
            additionalProperties: false,
        },
    },
}];
const messages = [{role: "user", content: "서울 날씨?"}];
const show = (name, choice) => ({
    case: name,
    finish_reason: choice.finish_reason,
    content: choice.message.content ?? null,
    tool_calls: (choice.message.tool_calls ?? []).map((c) => ({id: c.id, name: c.function.name, arguments: c.function.arguments})),
});
const out = [];
let r = await client.chat.completions.create({model, messages, tools, tool_choice: "required", parallel_tool_calls: false, max_tokens: 150, seed: 1});
out.push(show("required", r.choices[0]));
r = await client.chat.completions.create({model, messages, tools, tool_choice: {type: "function", function: {name: "get_weather"}}, max_tokens: 150, seed: 2});
out.push(show("named", r.choices[0]));
const stream = client.chat.completions.stream({model, messages, tools, tool_choice: "required", parallel_tool_calls: false, max_tokens: 150, seed: 1});
let deltas = 0;
stream.on("chunk", (c) => { if (c.choices[0]?.delta?.tool_calls) deltas++; });
const final = await stream.finalChatCompletion();
out.push({...show("streamed", final.choices[0]), deltas});
r = await client.chat.completions.create({
    model, messages: [{role: "user", content: "JSON"}], max_tokens: 60, seed: 3,
    response_format: {type: "json_schema", json_schema: {name: "a", strict: true, schema: {type: "object", properties: {answer: {type: "string", maxLength: 12}, n: {type: "integer"}}, required: ["answer", "n"], additionalProperties: false}}},
});
out.push(show("json_schema", r.choices[0]));
for (const o of out) process.stdout.write(JSON.stringify(o) + "\n");
