<?php
// Predis against one server: strings, a pipeline, MULTI/EXEC, pub/sub, Lua, a reconnect.
// Prints one JSON object with what each step returned.
require "Predis/Autoloader.php";
Predis\Autoloader::register();

class DoubleCommand extends Predis\Command\ScriptCommand {
    public function getKeysCount() { return 1; }
    public function getScript() { return "return tonumber(redis.call('get', KEYS[1])) * 2"; }
}

$port = (int)$argv[1];
$params = ["host" => "127.0.0.1", "port" => $port, "read_write_timeout" => 10];
$out = [];
$r = new Predis\Client($params);
$admin = new Predis\Client($params);
$r->flushall();
$out["strings"] = [(string)$r->set("s", "hello"), $r->get("s"), $r->append("s", " world"), $r->incr("n"),
                   $r->incrby("n", 41), $r->mget(["s", "n", "missing"]),
                   (string)$r->set("t", "v", "EX", 100, "NX"), $r->ttl("t")];
try { $r->lpush("s", ["x"]); } catch (Predis\Response\ServerException $e) { $out["wrongtype"] = $e->getMessage(); }
$out["pipeline"] = array_map("strval_or_value", $r->pipeline(function ($pipe) {
    $pipe->set("p1", "a");
    $pipe->incr("p2");
    $pipe->rpush("list", ["x", "y", "z"]);
    $pipe->lrange("list", 0, -1);
    $pipe->hset("h", "f", "v");
    $pipe->hgetall("h");
}));
$out["multi"] = $r->transaction(function ($tx) { $tx->incr("m"); $tx->incr("m"); $tx->get("m"); });
$out["multi_error"] = array_map("strval_or_value", $r->transaction(["exceptions" => false], function ($tx) {
    $tx->set("ok", "1");
    $tx->lpush("s", ["x"]);
}));
// pub/sub: a publisher process publishes until someone listens.
$publisher = proc_open([PHP_BINARY, __DIR__ . "/publish.php", (string)$port], [], $pipes);
$sub = new Predis\Client($params);
$loop = $sub->pubSubLoop();
$loop->subscribe("news");
foreach ($loop as $message) {
    if ($message->kind === "subscribe") {
        $out["subscribe"] = [$message->channel, $message->payload];
    } elseif ($message->kind === "message") {
        $out["message"] = [$message->channel, $message->payload];
        $loop->unsubscribe();
    }
}
unset($loop);
$out["publisher"] = proc_close($publisher);
$out["lua"] = [$r->eval("return redis.call('incrby', KEYS[1], ARGV[1])", 1, "lua", 5),
               $r->eval("return {1, 'two', {3}}", 0)];
$r->getProfile()->defineCommand("double", "DoubleCommand");
$out["lua"][] = $r->double("lua");              // EVALSHA, then EVAL on NOSCRIPT
try { $r->eval("return redis.call('nosuch')", 0); } catch (Predis\Response\ServerException $e) {
    $out["lua_error"] = explode(" script:", $e->getMessage())[0];
}
$id = $r->client("ID");
$out["kill"] = $admin->client("KILL", "ID", (string)$id);
try {
    $r->get("s");
    $out["after_kill"] = "no error";
} catch (Predis\Connection\ConnectionException $e) {
    $out["after_kill"] = "ConnectionException";
    $r->disconnect();                              // the next command connects again
}
$out["after_reconnect"] = [$r->get("s"), $r->client("ID") !== $id];
echo json_encode($out), "\n";

function strval_or_value($reply) {
    return is_object($reply) ? (string)$reply : $reply;
}
