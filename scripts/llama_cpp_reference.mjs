// Cross-checks attnrt's GGUF test data against real llama.cpp and measures llama.cpp's CPU decode speed,
// through node-llama-cpp (its npm package ships prebuilt llama.cpp CPU binaries, no compiler needed).
//
//   REPO=$PWD; mkdir -p "$WORK" && cd "$WORK" && npm init -y && npm install node-llama-cpp
//   # run from $WORK: node-llama-cpp is resolved from the working directory (see the import below)
//   node "$REPO/scripts/llama_cpp_reference.mjs" check "$REPO/test-data/gguf"
//   python3 "$REPO/scripts/make_test_gguf.py" --bench q4_k --out bench-q4_k.gguf
//   node "$REPO/scripts/llama_cpp_reference.mjs" bench bench-q4_k.gguf
//
// check DIR: every DIR/NAME.gguf with a DIR/NAME.reference.json (tiny-llama-f32.gguf: ../tiny-llama/reference.json)
//   is loaded on the CPU (2 threads, context 256); each case's prompt ids are fed as they are (no tokenizer,
//   no BOS) and llama.cpp's logits are compared with the reference: at the last prompt position, and at each
//   greedy step with the reference's own continuation fed in (teacher forcing, so one early divergence does
//   not hide the later steps). Separately the greedy continuation is decoded with sequence.evaluate() at
//   temperature 0 and compared with greedy.tokens.
//   Measured (llama.cpp 0ad4a86): F32 weights agree to <1e-5. Quantized files differ by 0.1-0.6 in logits of
//   std ~3, all of it from llama.cpp quantizing the activations to Q8_0 (Q8_0/Q4_0 weights) or Q8_K (K-quants)
//   for the dot products, while the reference is float64 over the dequantized weights: a float64 emulation of
//   that activation rounding matches llama.cpp to ~1e-6. So greedy runs may part where the top-2 gap is < ~0.5.
//   llama.cpp's gguf reader rejects nested arrays (GGUF type 9 inside an array), so the test files hold none.
// tokenize GGUF CORPUS OUT: loads GGUF vocab-only (vocabOnly: true, no tensors needed) and tokenizes every string of
//   CORPUS (a JSON or .json.gz file: an array of strings, or an object whose "corpus" is one, as
//   ../test-data/tokenizers/families/expected.json.gz) as llama_tokenize(add_special=true, parse_special=false)
//   does; writes OUT (gzipped if it ends in .gz) as {"format": "attnrt-llamacpp-tokens/1", "llama_cpp", "add_special",
//   "parse_special", "cases": [{"text", "ids"}]}. node-llama-cpp's model.tokenize(text, special) calls
//   common_tokenize(vocab, text, add_special=false, parse_special=special), and returns [] for "" without asking
//   llama.cpp: there is no add_special=true. For SPM vocabularies (model "llama") add_special only prepends BOS
//   (llama_vocab_get_add_bos) and appends EOS (get_add_eos) around the same ids (llama-vocab.cpp tokenize(): the
//   space prefix is added after BOS and without it alike), so the mode does exactly that, from the model's flags.
//   parse_special=false: control / unknown-typed text such as "<s>" is tokenized as plain text (user-defined tokens
//   still match); with a trailing argument `parse_special` it is matched (parse_special=true, as llama-server and
//   llama-cli tokenize prompts). llama.cpp reads no llama.* key when vocab_only. The "key not found in model" /
//   "failed to load model" lines on stderr are node-llama-cpp's memory estimate (a full load, run first), not this load.
// bench FILE: 16-token prompt, then 128 greedy tokens timed alone; tokens/s, median of 3 runs, 2 threads, with
//   how many cores other processes took meanwhile (a busy shared core makes llama.cpp's spinning threads crawl).
import fs from "node:fs";
import path from "node:path";
import {createRequire} from "node:module";
import {pathToFileURL} from "node:url";

// A bare `import "node-llama-cpp"` would look next to this script (the repo), and ES modules ignore NODE_PATH;
// resolve it from the working directory instead, so the repo needs no node_modules.
const {getLlama, LlamaLogLevel} = await import(
    pathToFileURL(createRequire(path.join(process.cwd(), "noop.js")).resolve("node-llama-cpp")).href);

const THREADS = 2;
// build "never": use only the prebuilt binary (@node-llama-cpp/linux-x64), never compile or fetch from GitHub.
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});

// exact: F32 KV cache and no flash attention for the check (llama.cpp's default F16 K/V alone costs ~1e-2 in
// the logits); the bench keeps llama.cpp's defaults (F16 KV cache, flash attention "auto").
async function open(file, exact) {
    const model = await llama.loadModel({modelPath: file, gpuLayers: 0});
    const context = await model.createContext({contextSize: 256, threads: THREADS, sequences: 1,
        ...(exact ? {experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", flashAttention: false} : {})});
    return {model, context, sequence: context.getSequence()};
}

// Logits (Map token -> logit, from the sampler chain, which at temperature 0 is just greedy and leaves them raw)
// at every input position whose index is in `at`.
async function logitsAt(sequence, tokens, at) {
    await sequence.clearHistory();
    const input = tokens.map((t, i) => at.has(i) ? [t, {generateNext: {logits: true}}] : t);
    const out = await sequence.controlledEvaluate(input);
    return [...at].map(i => out[i].next.logits);
}

function compare(logitMap, row) {
    if (logitMap.size !== row.length) throw new Error(`got ${logitMap.size} logits, reference has ${row.length}`);
    let maxAbs = 0, best = -1, bestRef = 0;
    for (const [tok, v] of logitMap) {
        maxAbs = Math.max(maxAbs, Math.abs(v - row[tok]));
        if (best < 0 || v > logitMap.get(best) || (v === logitMap.get(best) && tok < best)) best = tok;
    }
    for (let t = 1; t < row.length; t++) if (row[t] > row[bestRef]) bestRef = t;
    return {maxAbs, argmaxAgree: best === bestRef};
}

async function greedy(sequence, prompt, n) {
    await sequence.clearHistory();
    const got = [];
    // yieldEogToken: bos/eos are byte tokens 1 and 2 here; an eos must not silently end the run.
    for await (const t of sequence.evaluate(prompt, {temperature: 0, yieldEogToken: true})) {
        got.push(t);
        if (got.length === n) break;
    }
    return got;
}

async function check(dir) {
    const files = fs.readdirSync(dir).filter(f => f.endsWith(".gguf")).sort();
    for (const f of files) {
        const name = f.slice(0, -5);
        let refPath = path.join(dir, `${name}.reference.json`);
        if (name === "tiny-llama-f32") refPath = path.join(dir, "..", "tiny-llama", "reference.json");
        if (!fs.existsSync(refPath)) continue;
        const ref = JSON.parse(fs.readFileSync(refPath, "utf8"));
        console.log(`\n${f}  (reference ${path.relative(dir, refPath)}, ${ref.weight_type ?? ref.weight_dtype})`);
        let m;
        try { m = await open(path.join(dir, f), true); } catch (e) {
            console.log(`  LLAMA.CPP REFUSED TO LOAD: ${e.message}`);
            continue;
        }
        console.log("  case               | max|Δlogit| last prompt pos | argmax | max|Δlogit| greedy steps | step argmax | greedy tokens");
        for (const c of ref.cases) {
            const g = c.greedy, p = c.prompt.length;
            // Teacher-forced: prompt + reference continuation (minus its last token); logits at p-1 .. p+n-2.
            const seq = [...c.prompt, ...g.tokens.slice(0, -1)];
            const at = new Set(Array.from({length: g.tokens.length}, (_, k) => p - 1 + k));
            const maps = await logitsAt(m.sequence, seq, at);
            const last = compare(maps[0], c.logits[p - 1]);
            const steps = maps.map((lm, k) => compare(lm, g.step_logits[k]));
            const stepMax = Math.max(...steps.map(s => s.maxAbs));
            const stepAgree = steps.filter(s => s.argmaxAgree).length;
            const got = await greedy(m.sequence, c.prompt, g.new_tokens);
            const div = got.findIndex((t, i) => t !== g.tokens[i]);
            const greedyRes = div < 0 && got.length === g.tokens.length ? "equal"
                : `differ at ${div < 0 ? got.length : div}: got [${got}] want [${g.tokens}]`;
            console.log(`  ${JSON.stringify(c.text).slice(0, 18).padEnd(18)} | ${last.maxAbs.toExponential(2).padStart(27)} | ${(last.argmaxAgree ? "yes" : "NO").padEnd(6)} | ${stepMax.toExponential(2).padStart(24)} | ${`${stepAgree}/${steps.length}`.padEnd(11)} | ${greedyRes}`);
        }
        await m.context.dispose();
        await m.model.dispose();
    }
}

// CPU seconds used by the whole machine (Linux /proc/stat, USER_HZ 100): minus this process's own CPU time it
// shows how much of the (shared, 2-core) machine something else took while a run was timed.
function machineCpuSeconds() {
    const [, user, nice, sys, , , irq, softirq, steal] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
    return (user + nice + sys + irq + softirq + steal) / 100;
}

async function bench(file) {
    const m = await open(file, false);
    const prompt = Array.from({length: 16}, (_, i) => 256 + 37 * i);  // any 16 ids; random weights anyway
    const rates = [], others = [];
    for (let run = -1; run < 3; run++) {  // run -1: untimed warm-up (page faults of the mmap'd weights, thread start)
        await m.sequence.clearHistory();
        // The prompt is evaluated before the generator yields its first token; time from that token on,
        // so the clock covers exactly 128 single-token decode steps (the first token comes from the prompt's logits).
        let n = 0, t0 = 0, machine0 = 0, own0 = 0;
        for await (const _ of m.sequence.evaluate(prompt, {temperature: 0, yieldEogToken: true})) {
            if (n === 0) [t0, machine0, own0] = [performance.now(), machineCpuSeconds(), process.cpuUsage()];
            if (++n === 129) break;
        }
        const wall = (performance.now() - t0) / 1000, own = process.cpuUsage(own0);
        if (run < 0) continue;
        rates.push(128 / wall);
        others.push((machineCpuSeconds() - machine0 - (own.user + own.system) / 1e6) / wall);
    }
    const median = [...rates].sort((a, b) => a - b)[1];
    console.log(`${path.basename(file)}: ${median.toFixed(1)} tokens/s decode (median of 3 runs: ${rates.map(r => r.toFixed(1)).join(", ")}; ` +
        `other processes used ${others.map(o => Math.max(0, o).toFixed(2)).join(", ")} cores), ${THREADS} threads, llama.cpp ${llama.llamaCppRelease.release}`);
    await m.context.dispose();
    await m.model.dispose();
}

// speed FILE THREADS PROMPT NEW: one JSON line {prefill_tps, decode_tps, ...} for scripts/bench-vs-llamacpp. A
//   PROMPT-token prompt evaluated as one batch (prefill: from the call to the first token), then NEW-1 greedy
//   single-token steps (decode); after one untimed round of the same (page faults, thread start).
async function speed(file, threads, promptLength, newTokens) {
    const model = await llama.loadModel({modelPath: file, gpuLayers: 0});
    const context = await model.createContext({contextSize: promptLength + newTokens + 8, threads, sequences: 1,
        batchSize: Math.max(512, promptLength)});
    const sequence = context.getSequence();
    const prompt = Array.from({length: promptLength}, (_, i) => 300 + 7 * i);  // the ids scripts/bench-vs-llamacpp gives attnrt
    let result;
    for (let run = 0; run < 2; run++) {
        await sequence.clearHistory();
        let n = 0, t1 = 0;
        const t0 = performance.now();
        for await (const _ of sequence.evaluate(prompt, {temperature: 0, yieldEogToken: true})) {
            if (n === 0) t1 = performance.now();
            if (++n === newTokens) break;
        }
        const t2 = performance.now();
        result = {impl: "llama.cpp", release: `${llama.llamaCppRelease.repo} ${llama.llamaCppRelease.release} (node-llama-cpp ${nodeLlamaCppVersion()})`, threads, prompt: promptLength,
            new_tokens: n, prefill_tps: promptLength / ((t1 - t0) / 1000), decode_tps: (n - 1) / ((t2 - t1) / 1000)};
    }
    console.log(JSON.stringify(result));
    await context.dispose();
    await model.dispose();
}

async function tokenize(file, corpusPath, out, parseSpecial) {
    const zlib = await import("node:zlib");
    const readJson = p => JSON.parse((p.endsWith(".gz") ? zlib.gunzipSync(fs.readFileSync(p)) : fs.readFileSync(p)).toString("utf8"));
    const corpusJson = readJson(corpusPath);
    const corpus = Array.isArray(corpusJson) ? corpusJson : corpusJson.corpus;
    const model = await llama.loadModel({modelPath: file, vocabOnly: true});
    const {bos, eos, shouldPrependBosToken: addBos, shouldAppendEosToken: addEos} = model.tokens;
    const cases = corpus.map(text => ({text, ids: [
        ...(addBos ? [bos] : []), ...Array.from(model.tokenize(text, parseSpecial), Number), ...(addEos ? [eos] : [])]}));
    const doc = {format: "attnrt-llamacpp-tokens/1",
        llama_cpp: `${llama.llamaCppRelease.repo} ${llama.llamaCppRelease.release} (node-llama-cpp ${nodeLlamaCppVersion()} prebuilt CPU binary)`,
        gguf: path.basename(file), corpus: path.basename(corpusPath), add_special: true, parse_special: parseSpecial,
        add_bos: addBos, add_eos: addEos, cases};
    // one case per line: reviewable diffs, still valid JSON
    const text = "{" + Object.entries(doc).filter(([k]) => k !== "cases").map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(", ")
        + ", \"cases\": [\n" + cases.map(c => JSON.stringify(c)).join(",\n") + "\n]}\n";
    fs.writeFileSync(out, out.endsWith(".gz") ? zlib.gzipSync(Buffer.from(text, "utf8"), {level: 9}) : text);
    console.log(`${out}: ${cases.length} strings, add_bos ${addBos}, add_eos ${addEos}, parse_special ${parseSpecial}, ${doc.llama_cpp}`);
    await model.dispose();
}

function nodeLlamaCppVersion() {
    // its exports hide package.json: walk up from the resolved entry point
    let dir = path.dirname(createRequire(path.join(process.cwd(), "noop.js")).resolve("node-llama-cpp"));
    for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
        const p = path.join(dir, "package.json");
        if (fs.existsSync(p) && JSON.parse(fs.readFileSync(p, "utf8")).name === "node-llama-cpp") return JSON.parse(fs.readFileSync(p, "utf8")).version;
    }
    return "?";
}

const [mode, arg, ...rest] = process.argv.slice(2);
if (mode === "check" && arg) await check(arg);
else if (mode === "bench" && arg) await bench(arg);
else if (mode === "speed" && arg && rest.length >= 3) await speed(arg, Number(rest[0]), Number(rest[1]), Number(rest[2]));
else if (mode === "tokenize" && arg && rest.length >= 2) await tokenize(arg, rest[0], rest[1], rest[2] === "parse_special");
else { console.error("usage: node llama_cpp_reference.mjs check DIR | bench FILE.gguf | speed FILE.gguf THREADS PROMPT NEW | tokenize FILE.gguf CORPUS.json[.gz] OUT.json[.gz] [parse_special]"); process.exit(2); }
await llama.dispose();
