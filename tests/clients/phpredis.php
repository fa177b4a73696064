<?php
// phpredis against one server: strings, a pipeline, MULTI/EXEC, pub/sub, Lua, a reconnect.
// Prints one JSON object with what each step returned.
$port = (int)$argv[1];
$out = [];
$r = new Redis();
$r->connect("127.0.0.1", $port, 5.0);
$admin = new Redis();
$admin->connect("127.0.0.1", $port, 5.0);
$r->flushAll();
$out["strings"] = [$r->set("s", "hello"), $r->get("s"), $r->append("s", " world"), $r->incr("n"),
                   $r->incrBy("n", 41), $r->mGet(["s", "n", "missing"]),
                   $r->set("t", "v", ["nx", "ex" => 100]), $r->ttl("t")];
$out["wrongtype"] = [$r->lPush("s", "x"), $r->getLastError()];
$r->clearLastError();
$out["pipeline"] = $r->pipeline()->set("p1", "a")->incr("p2")->rPush("list", "x", "y", "z")
    ->lRange("list", 0, -1)->hSet("h", "f", "v")->hGetAll("h")->exec();
$out["multi"] = $r->multi()->incr("m")->incr("m")->get("m")->exec();
$out["multi_error"] = $r->multi()->set("ok", "1")->lPush("s", "x")->exec();
// pub/sub: a publisher process publishes until someone listens.
$publisher = proc_open([PHP_BINARY, __DIR__ . "/publish.php", (string)$port], [], $pipes);
$sub = new Redis();
$sub->connect("127.0.0.1", $port, 5.0);
// phpredis's subscribe loop returns only on an error: a read timeout ends it after the message.
$sub->setOption(Redis::OPT_READ_TIMEOUT, 1);
try {
    $sub->subscribe(["news"], function ($redis, $channel, $message) use (&$out) {
        $out["message"] = [$channel, $message];
    });
} catch (RedisException $e) {
    $out["subscribe_ended"] = $e->getMessage() === "read error on connection to 127.0.0.1:$port";
}
$out["publisher"] = proc_close($publisher);
$out["lua"] = [$r->eval("return redis.call('incrby', KEYS[1], ARGV[1])", ["lua", 5], 1),
               $r->eval("return {1, 'two', {3}}"),
               $r->evalSha(sha1("return 1"))];
$out["lua"][] = $r->getLastError();
$r->clearLastError();
$sha = $r->script("load", "return tonumber(redis.call('get', KEYS[1])) * 2");
$out["lua"][] = $r->evalSha($sha, ["lua"], 1);
$out["lua_error"] = [$r->eval("return redis.call('nosuch')"), explode(" script:", $r->getLastError())[0]];
$id = $r->client("id");
$out["kill"] = $admin->rawCommand("CLIENT", "KILL", "ID", (string)$id);
try {
    $r->get("s");
    $out["after_kill"] = "no error";
} catch (RedisException $e) {
    $out["after_kill"] = "RedisException";
}
$r->connect("127.0.0.1", $port, 5.0);              // phpredis reconnects when asked
$out["after_reconnect"] = [$r->get("s"), $r->client("id") !== $id];
echo json_encode($out), "\n";
