// ioredis against one server: strings, a pipeline, MULTI/EXEC, pub/sub, Lua, a reconnect.
// Prints one JSON object with what each step returned.
const Redis = require("ioredis");
const port = Number(process.argv[2]);

async function main() {
  const out = {};
  const r = new Redis({port, host: "127.0.0.1", maxRetriesPerRequest: 3});
  const admin = new Redis({port, host: "127.0.0.1"});
  await r.flushall();
  out.strings = [await r.set("s", "hello"), await r.get("s"), await r.append("s", " world"),
                 await r.incr("n"), await r.incrby("n", 41), await r.mget("s", "n", "missing"),
                 await r.set("t", "v", "EX", 100, "NX"), await r.ttl("t")];
  try { await r.lpush("s", "x"); } catch (e) { out.wrongtype = e.message; }
  out.pipeline = await r.pipeline().set("p1", "a").incr("p2").rpush("list", "x", "y", "z")
    .lrange("list", 0, -1).hset("h", "f", "v").hgetall("h").exec();
  out.multi = await r.multi().incr("m").incr("m").get("m").exec();
  out.multi_error = (await r.multi().set("ok", "1").lpush("s", "x").exec()).map(([e, v]) => e ? e.message : v);
  const sub = new Redis({port, host: "127.0.0.1"});
  const received = new Promise((resolve) => sub.on("message", (ch, msg) => resolve([ch, msg])));
  out.subscribe = await sub.subscribe("news");
  out.publish = await r.publish("news", "flash");
  out.message = await received;
  await sub.quit();
  out.lua = [await r.eval("return redis.call('incrby', KEYS[1], ARGV[1])", 1, "lua", 5),
             await r.eval("return {1, 'two', {3}}", 0)];
  r.defineCommand("double", {numberOfKeys: 1, lua: "return tonumber(redis.call('get', KEYS[1])) * 2"});
  out.lua.push(await r.double("lua"));           // EVALSHA, loading the script on NOSCRIPT
  try { await r.eval("return redis.call('nosuch')", 0); } catch (e) { out.lua_error = e.message.split(" script:")[0]; }
  const id = await r.client("ID");
  const reconnected = new Promise((resolve) => r.once("ready", resolve));
  out.kill = await admin.client("KILL", "ID", id);
  await reconnected;
  out.after_reconnect = [await r.get("s"), (await r.client("ID")) !== id];
  await admin.quit();
  await r.quit();
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
