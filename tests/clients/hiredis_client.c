/* hiredis against one server: strings, a pipeline, MULTI/EXEC, pub/sub, Lua, a reconnect.
 * Prints each reply, one per line, as its type and value (arrays nested in brackets). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

static void print_reply(const redisReply *r) {
    size_t i;
    switch (r->type) {
    case REDIS_REPLY_STRING: printf("string:%.*s", (int)r->len, r->str); break;
    case REDIS_REPLY_STATUS: printf("status:%.*s", (int)r->len, r->str); break;
    case REDIS_REPLY_ERROR: printf("error:%.*s", (int)r->len, r->str); break;
    case REDIS_REPLY_INTEGER: printf("integer:%lld", r->integer); break;
    case REDIS_REPLY_NIL: printf("nil"); break;
    case REDIS_REPLY_ARRAY:
        printf("[");
        for (i = 0; i < r->elements; i++) {
            if (i) printf(", ");
            print_reply(r->element[i]);
        }
        printf("]");
        break;
    default: printf("type %d", r->type);
    }
}

static redisContext *connect_to(int port) {
    struct timeval timeout = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (c == NULL || c->err) {
        fprintf(stderr, "connect: %s\n", c ? c->errstr : "no context");
        exit(1);
    }
    redisSetTimeout(c, timeout);
    return c;
}

static long long show(const char *step, redisReply *r) {
    long long integer;
    if (r == NULL) {
        printf("%s: no reply\n", step);
        return -1;
    }
    printf("%s: ", step);
    print_reply(r);
    printf("\n");
    integer = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return integer;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 6379, i;
    redisContext *c = connect_to(port), *admin = connect_to(port), *sub = connect_to(port);
    redisReply *reply;
    long long id;

    show("flushall", redisCommand(c, "FLUSHALL"));
    show("set", redisCommand(c, "SET s %s", "hello"));
    show("get", redisCommand(c, "GET s"));
    show("append", redisCommand(c, "APPEND s %b", " world", (size_t)6));
    show("incrby", redisCommand(c, "INCRBY n 42"));
    show("mget", redisCommand(c, "MGET s n missing"));
    show("set ex nx", redisCommand(c, "SET t v EX 100 NX"));
    show("wrongtype", redisCommand(c, "LPUSH s x"));

    /* A pipeline: every command written, then every reply read. */
    redisAppendCommand(c, "SET p1 a");
    redisAppendCommand(c, "INCR p2");
    redisAppendCommand(c, "RPUSH list x y z");
    redisAppendCommand(c, "LRANGE list 0 -1");
    redisAppendCommand(c, "HSET h f v");
    redisAppendCommand(c, "HGETALL h");
    for (i = 0; i < 6; i++) {
        if (redisGetReply(c, (void **)&reply) != REDIS_OK) { fprintf(stderr, "pipeline\n"); return 1; }
        show("pipeline", reply);
    }

    show("multi", redisCommand(c, "MULTI"));
    show("queued", redisCommand(c, "INCR m"));
    show("queued", redisCommand(c, "LPUSH s x"));
    show("queued", redisCommand(c, "GET m"));
    show("exec", redisCommand(c, "EXEC"));

    show("subscribe", redisCommand(sub, "SUBSCRIBE news"));
    show("publish", redisCommand(c, "PUBLISH news flash"));
    if (redisGetReply(sub, (void **)&reply) != REDIS_OK) { fprintf(stderr, "message\n"); return 1; }
    show("message", reply);

    show("eval", redisCommand(c, "EVAL %s 1 lua 5", "return redis.call('incrby', KEYS[1], ARGV[1])"));
    show("eval nested", redisCommand(c, "EVAL %s 0", "return {1, 'two', {3}}"));
    show("evalsha missing", redisCommand(c, "EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0"));
    reply = redisCommand(c, "SCRIPT LOAD %s", "return tonumber(redis.call('get', KEYS[1])) * 2");
    show("evalsha", redisCommand(c, "EVALSHA %s 1 lua", reply->str));
    freeReplyObject(reply);

    reply = redisCommand(c, "CLIENT ID");
    id = reply->integer;
    freeReplyObject(reply);
    show("kill", redisCommand(admin, "CLIENT KILL ID %lld", id));
    reply = redisCommand(c, "GET s");
    printf("after kill: %s\n", reply == NULL && c->err ? "connection error" : "reply");
    if (reply) freeReplyObject(reply);
    if (redisReconnect(c) != REDIS_OK) { fprintf(stderr, "reconnect: %s\n", c->errstr); return 1; }
    show("after reconnect", redisCommand(c, "GET s"));
    reply = redisCommand(c, "CLIENT ID");
    printf("new connection: %s\n", reply->integer != id ? "yes" : "no");
    freeReplyObject(reply);
    redisFree(c);
    redisFree(admin);
    redisFree(sub);
    return 0;
}
