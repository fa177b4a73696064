# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Native twin of server/dispatch.py: the per-command path at C speed.

The loop is server/dispatch.py's; what it adds is the common case run here:
a command name already seen (the server's cache of names as sent), no
subcommands, not `protected`, the right arity, an authenticated client
outside MULTI, no extra checks registered, not a write on a replica, at top
level. There Server.process_command would only call Server.call, so this loop
does what call does (the clock, commandstats, propagation, after-call hooks,
serving blocked clients) on C fields instead. Anything else goes through
process_command unchanged.
"""
from cpython.bytearray cimport PyByteArray_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_SIZE
from cpython.ref cimport PyObject
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from native.resp cimport ReplyWriter, RequestParser

from protocol.parser import ProtocolError
from server.errors import CommandError

cdef enum:
    REPLY_ON = 0      # client.reply_mode when every reply is sent (server/client.py has the others)


cdef class StatsCore:
    """INFO stats counters the dispatch path updates."""
    cdef public long long total_commands_processed


cdef class ServerCore:
    """The Server attributes the dispatch path reads for every command."""
    cdef public long long dirty
    cdef public int call_depth
    cdef public object cached_time_ms
    cdef public object replicaof
    cdef public object ready_keys
    cdef public object propagation_batch
    cdef public object propagation_sinks
    cdef public StatsCore stats
    cdef public dict _commands_by_raw_name


cdef class CommandCore:
    """A command table entry's dispatch facts and its INFO commandstats counters."""
    cdef object _handler          # copies of handler and arity, taken by prepare_dispatch
    cdef int _arity
    cdef public long long calls
    cdef public long long usec
    cdef public long long rejected_calls
    cdef public long long failed_calls
    cdef public bint fast         # may skip process_command's checks (set when first looked up by name)
    cdef public bint is_write     # the write flag (set by Command)

    def prepare_dispatch(self):
        """Derive the fast-path facts, once the subcommands are all declared."""
        self.fast = not self.subcommands and "protected" not in self.flags
        self._handler = self.handler
        self._arity = self.arity


cdef inline long long _now_ns() noexcept:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <long long>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef class ClientCore:
    """The connection-independent part of a client the dispatch loop drives."""
    cdef public ServerCore server
    cdef public object parser
    cdef public object reply
    cdef public object db
    cdef public object argv               # the command being executed
    cdef public object propagate_argv     # replacement argv to propagate, if any
    cdef public object last_command
    cdef public object multi_state        # MULTI: the queued (command, argv) until EXEC or DISCARD
    cdef public bint authenticated
    cdef public bint closing              # close once pending replies are written
    cdef public bint closed
    cdef public bint blocked              # BLPOP & co: input is parsed again on resume_input()
    cdef public int reply_mode

    def process_input(self):
        """Run every complete command in the query buffer, then queue the replies."""
        cdef ServerCore server = self.server
        cdef RequestParser parser = <RequestParser?>self.parser
        cdef ReplyWriter reply
        cdef CommandCore cmd
        cdef PyObject* entry
        cdef list argv
        cdef Py_ssize_t argc, mark
        cdef long long dirty_before, started, duration
        cdef list checks = server.command_checks
        cdef list hooks = server.after_call_hooks
        process_command = server.process_command
        try:
            while not self.closing and not self.blocked:
                argv = parser.next_command(not self.authenticated)
                if argv is None:
                    break
                argc = PyList_GET_SIZE(argv)
                if argc == 0:
                    continue
                reply = <ReplyWriter?>self.reply
                mark = PyByteArray_GET_SIZE(reply._buf)
                # One command; a bug in the dispatcher costs an -ERR, never the server.
                try:
                    entry = PyDict_GetItem(server._commands_by_raw_name, argv[0])
                    if entry == NULL:
                        process_command(self, argv)
                    else:
                        cmd = <CommandCore>entry
                        if (not cmd.fast or not self.authenticated or self.multi_state is not None
                                or (argc != cmd._arity if cmd._arity > 0 else argc < -cmd._arity)
                                or PyList_GET_SIZE(checks) or server.call_depth
                                or (cmd.is_write and server.replicaof is not None)):
                            process_command(self, argv)
                        else:
                            # Server.call for a top-level command, field by field.
                            dirty_before = server.dirty
                            self.argv = argv
                            self.propagate_argv = None
                            server.cached_time_ms = None
                            server.call_depth = 1
                            started = _now_ns()
                            try:
                                cmd._handler(self, argv)
                            except CommandError as exc:
                                reply.error(exc.message)
                                cmd.failed_calls += 1
                            except Exception as exc:
                                server.handler_failed(self, cmd, exc, mark)
                            duration = (_now_ns() - started) // 1000
                            server.call_depth = 0
                            server.cached_time_ms = None
                            cmd.calls += 1
                            cmd.usec += duration
                            self.last_command = cmd
                            server.stats.total_commands_processed += 1
                            if (server.dirty != dirty_before and cmd.is_write
                                    and self.propagate_argv is not False
                                    and (server.propagation_sinks or server.propagation_batch is not None)):
                                server.propagate(self.db.index, self.propagate_argv or argv)
                            if server.propagation_batch is not None:
                                server.end_propagation_unit(cmd)
                            if PyList_GET_SIZE(hooks):
                                for hook in hooks:
                                    hook(self, cmd, argv, duration)
                            if server.ready_keys:
                                server.serve_ready_keys()
                except Exception as exc:
                    self.internal_error(argv, exc)
                if self.reply_mode != REPLY_ON:
                    self.end_of_command_reply_mode(mark)
                if self.closed:
                    return
        except ProtocolError as exc:
            self.protocol_error(exc)
        server.queue_flush(self)
