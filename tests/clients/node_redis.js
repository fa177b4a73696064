// node-redis against one server: strings, a pipeline, MULTI/EXEC, pub/sub, Lua, a reconnect.
// Prints one JSON object with what each step returned.
const {createClient, defineScript} = require("redis");
const port = Number(process.argv[2]);

async function main() {
  const out = {};
  const url = "redis://127.0.0.1:" + port;
  const r = createClient({url, scripts: {double: defineScript({NUMBER_OF_KEYS: 1,
      SCRIPT: "return tonumber(redis.call('get', KEYS[1])) * 2",
      parseCommand(parser, key) { parser.pushKey(key); }, transformReply(reply) { return reply; }})}});
  r.on("error", () => {});                     // a killed connection reconnects by itself
  const admin = createClient({url});
  await r.connect();
  await admin.connect();
  await r.flushAll();
  out.strings = [await r.set("s", "hello"), await r.get("s"), await r.append("s", " world"),
                 await r.incr("n"), await r.incrBy("n", 41), await r.mGet(["s", "n", "missing"]),
                 await r.set("t", "v", {EX: 100, NX: true}), await r.ttl("t")];
  try { await r.lPush("s", "x"); } catch (e) { out.wrongtype = e.message; }
  out.pipeline = await r.multi().set("p1", "a").incr("p2").rPush("list", ["x", "y", "z"])
    .lRange("list", 0, -1).hSet("h", "f", "v").hGetAll("h").execAsPipeline();
  out.multi = await r.multi().incr("m").incr("m").get("m").exec();
  try { await r.multi().set("ok", "1").lPush("s", "x").exec(); } catch (e) { out.multi_error = String(e.message || e); }
  const sub = r.duplicate();
  await sub.connect();
  const received = new Promise((resolve) => sub.subscribe("news", (msg, ch) => resolve([ch, msg])));
  await new Promise((resolve) => setTimeout(resolve, 200));
  out.publish = await r.publish("news", "flash");
  out.message = await received;
  await sub.quit();
  out.lua = [await r.eval("return redis.call('incrby', KEYS[1], ARGV[1])", {keys: ["lua"], arguments: ["5"]}),
             await r.eval("return {1, 'two', {3}}")];
  out.lua.push(await r.double("lua"));           // EVALSHA, loading the script on NOSCRIPT
  try { await r.eval("return redis.call('nosuch')"); } catch (e) { out.lua_error = e.message.split(" script:")[0]; }
  const id = await r.clientId();
  const reconnected = new Promise((resolve) => r.once("ready", resolve));
  out.kill = await admin.sendCommand(["CLIENT", "KILL", "ID", String(id)]);
  await reconnected;
  out.after_reconnect = [await r.get("s"), (await r.clientId()) !== id];
  await admin.quit();
  await r.quit();
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
