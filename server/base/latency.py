"""The latency monitor: per-event time series of latency spikes (LATENCY LATEST/HISTORY/GRAPH/
DOCTOR read them), as Redis 7.0's latency.c keeps them.

An event ("command", "fast-command", "expire-cycle", "fork", "aof-write", ...) gets a sample
when something took at least `latency-monitor-threshold` milliseconds (0 turns sampling
off). Each event keeps its all-time maximum and the last 160 samples, one per second: a
second spike within the same second only raises that second's sample.
"""
import time

HISTORY_LEN = 160
GRAPH_COLUMNS = 80
GRAPH_ROWS = 4


class EventSeries:
    __slots__ = ("samples", "next", "max")

    def __init__(self):
        self.samples = [(0, 0)] * HISTORY_LEN      # (unix second, ms); time 0 is an empty slot
        self.next = 0
        self.max = 0

    def add(self, now, latency):
        if latency > self.max:
            self.max = latency
        previous = (self.next - 1) % HISTORY_LEN
        when, worst = self.samples[previous]
        if when == now:
            if latency > worst:
                self.samples[previous] = (now, latency)
            return
        self.samples[self.next] = (now, latency)
        self.next = (self.next + 1) % HISTORY_LEN

    def in_order(self):
        """The samples oldest first, empty slots left out."""
        start = self.next
        ordered = self.samples[start:] + self.samples[:start]
        return [sample for sample in ordered if sample[0]]

    def latest(self):
        return self.samples[(self.next - 1) % HISTORY_LEN]


class LatencyMonitor:
    """Every event's series, in the order the events first occurred."""

    def __init__(self, config):
        self.config = config
        self.events = {}

    def add_sample_if_needed(self, event, latency_ms):
        """Record `latency_ms` for `event` if it reaches the threshold."""
        threshold = self.config.latency_monitor_threshold
        if threshold and latency_ms >= threshold:
            self.add_sample(event, latency_ms)

    def add_sample(self, event, latency_ms):
        series = self.events.get(event)
        if series is None:
            series = self.events[event] = EventSeries()
        series.add(int(time.time()), int(latency_ms))

    def reset(self, event=None):
        """Forget one event (names compared without case) or all of them; how many were."""
        if event is None:
            count = len(self.events)
            self.events.clear()
            return count
        matching = [name for name in self.events if name.lower() == event.lower()]
        for name in matching:
            del self.events[name]
        return len(matching)

    # -- LATENCY GRAPH ---------------------------------------------------------------------

    def graph(self, event):
        """The ASCII sparkline of an event's samples, with how long ago each one was."""
        series = self.events[event]
        now = int(time.time())
        samples = series.in_order()
        values = [latency for _, latency in samples]
        labels = [_age_label(now - when) for when, _ in samples]
        low = min(values) if values else 0
        high = max(values) if values else 0
        out = ["%s - high %d ms, low %d ms (all time high %d ms)\n"
               % (event, high, low, series.max),
               "-" * GRAPH_COLUMNS + "\n"]
        out.append(render_sparkline(values, labels, GRAPH_COLUMNS, GRAPH_ROWS))
        return "".join(out)

    # -- LATENCY DOCTOR --------------------------------------------------------------------

    def analyze(self, event):
        """(samples, average, mean deviation, period in seconds) of one event."""
        samples = self.events[event].in_order()
        if not samples:
            return 0, 0, 0, 0
        total = sum(latency for _, latency in samples)
        average = total // len(samples)
        period = int(time.time()) - min(when for when, _ in samples) or 1
        deviation = sum(abs(average - latency) for _, latency in samples) // len(samples)
        return len(samples), average, deviation, period

    def doctor(self, server):
        """The human readable report of LATENCY DOCTOR."""
        config = self.config
        if not self.events and not config.latency_monitor_threshold:
            return DOCTOR_DISABLED
        advice = set()
        count = 0
        lines = []
        for number, (event, series) in enumerate(list(self.events.items()), 1):
            if number == 1:
                lines.append(DOCTOR_INTRO)
            samples, average, deviation, period = self.analyze(event)
            line = ("%d. %s: %d latency spikes (average %dms, mean deviation %dms, period %.2f "
                    "sec). Worst all time event %dms." % (number, event, samples, average,
                                                          deviation, period / samples, series.max))
            lowered = event.lower()
            if lowered == "fork":
                rate = getattr(server, "fork_rate", 0.0)
                if rate < 10:
                    quality = "terrible"
                elif rate < 25:
                    quality = "poor"
                elif rate < 100:
                    quality = "good"
                else:
                    quality = "excellent"
                if rate < 25:
                    advice.add("better_vm")
                    count += 1
                line += " Fork rate is %.2f GB/sec (%s)." % (rate, quality)
            for key in EVENT_ADVICE.get(lowered, ()):
                advice.add(key)
                count += 1
            if lowered == "command":
                if config.slowlog_log_slower_than < 0:
                    advice.add("slowlog_enabled")
                    count += 1
                elif config.slowlog_log_slower_than // 1000 > config.latency_monitor_threshold:
                    advice.add("slowlog_tuning")
                    count += 1
            lines.append(line + "\n")
        if anon_huge_pages():
            advice.add("disable_thp")
            count += 1
        if not lines and not count:
            return DOCTOR_NOTHING
        if lines and not count:
            return "".join(lines) + DOCTOR_NO_ADVICE
        lines.append("\nI have a few advices for you:\n\n")
        threshold_us = config.latency_monitor_threshold * 1000
        for key, text in ADVICE_TEXTS:
            if key not in advice:
                continue
            if key == "relax_fsync" and config.appendfsync != "always":
                continue
            if key == "hz" and config.hz >= 100:
                continue
            lines.append(text % threshold_us if "%d" in text else text)
        return "".join(lines)


def _age_label(elapsed):
    if elapsed < 60:
        return "%ds" % elapsed
    if elapsed < 3600:
        return "%dm" % (elapsed // 60)
    if elapsed < 86400:
        return "%dh" % (elapsed // 3600)
    return "%dd" % (elapsed // 86400)


CHARSET_FILL = "_o#"


def render_sparkline(values, labels, columns, rows):
    """Rows of characters drawing `values` (filled below the line), then each value's
    label written downwards under it; sequences longer than `columns` wrap in blocks."""
    out = []
    if not values:
        return ""
    low, high = min(values), max(values)
    for start in range(0, len(values), columns):
        if start:
            out.append("\n")
        out.append(_render_block(values[start:start + columns], labels[start:start + columns],
                                 low, high, rows))
    return "".join(out)


def _render_block(values, labels, low, high, rows):
    span = float(high - low) or 1.0
    steps = len(CHARSET_FILL) * rows
    has_labels = any(labels)
    out = []
    row = 0
    while True:
        chars = [" "] * len(values)
        more = False
        for j, value in enumerate(values):
            step = int(int((value - low) * steps) / span)
            step = min(max(step, 0), steps - 1)
            if row < rows:
                more = True
                index = step - (rows - row - 1) * len(CHARSET_FILL)
                if 0 <= index < len(CHARSET_FILL):
                    chars[j] = CHARSET_FILL[index]
                elif index >= len(CHARSET_FILL):
                    chars[j] = "|"
            else:
                if has_labels and row - rows < 1:        # one blank row above the labels
                    more = True
                    break
                label = labels[j]
                position = row - rows - 1
                if label and len(label) > position:
                    more = True
                    chars[j] = label[position]
        if not more:
            break
        row += 1
        out.append("".join(chars) + "\n")
    return "".join(out)


def anon_huge_pages():
    """AnonHugePages of this process in kB (transparent huge pages in use)."""
    try:
        with open("/proc/self/smaps") as f:
            return sum(int(line.split()[1]) for line in f if line.startswith("AnonHugePages:"))
    except (OSError, ValueError, IndexError):
        return 0


# The events Redis gives advice for, and which.
EVENT_ADVICE = {
    "command": ("slowlog_inspect", "large_objects"),
    "fast-command": ("scheduler",),
    "aof-write-pending-fsync": ("local_disk", "disk_contention", "ssd", "data_writeback"),
    "aof-write-active-child": ("no_appendfsync", "data_writeback", "ssd"),
    "aof-write-alone": ("local_disk", "data_writeback", "ssd"),
    "aof-fsync-always": ("relax_fsync",),
    "aof-fstat": ("disk_contention", "local_disk"),
    "rdb-unlink-temp-file": ("disk_contention", "local_disk"),
    "aof-rewrite-diff-write": ("write_load_info", "data_writeback", "ssd", "local_disk"),
    "aof-rename": ("write_load_info", "data_writeback", "ssd", "local_disk"),
    "expire-cycle": ("hz", "large_objects"),
    "eviction-del": ("large_objects",),
    "eviction-cycle": ("mass_eviction",),
}

DOCTOR_DISABLED = (
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. "
    "You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. "
    "If we weren't in a deep space mission I'd suggest to take a look at "
    "https://redis.io/topics/latency-monitor.\n")
DOCTOR_INTRO = ("Dave, I have observed latency spikes in this Redis instance. You don't mind "
                "talking about it, do you Dave?\n\n")
DOCTOR_NOTHING = (
    "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the "
    "slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think "
    "things over.\n")
DOCTOR_NO_ADVICE = (
    "\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use "
    "the Redis community to get some help, providing this report in your help request.\n")

# Advice paragraphs in the order the report gives them.
ADVICE_TEXTS = (
    ("better_vm",
     "- If you are using a virtual machine, consider upgrading it with a faster one using a "
     "hypervisior that provides less latency during fork() calls. Xen is known to have poor "
     "fork() performance. Even in the context of the same VM provider, certain kinds of "
     "instances can execute fork faster than others.\n"),
    ("slowlog_enabled",
     "- There are latency issues with potentially slow commands you are using. Try to enable "
     "the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than %d'. If "
     "the Slow log is disabled Redis is not able to log slow commands execution for you.\n"),
    ("slowlog_tuning",
     "- Your current Slow Log configuration only logs events that are slower than your "
     "configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than "
     "%d'.\n"),
    ("slowlog_inspect",
     "- Check your Slow Log to understand what are the commands you are running which are too "
     "slow to execute. Please check https://redis.io/commands/slowlog for more information.\n"),
    ("scheduler",
     "- The system is slow to execute Redis code paths not containing system calls. This "
     "usually means the system does not provide Redis CPU time to run for long periods. You "
     "should try to:\n"
     "  1) Lower the system load.\n"
     "  2) Use a computer / VM just for Redis if you are running other software in the same "
     "system.\n"
     "  3) Check if you have a \"noisy neighbour\" problem.\n"
     "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your "
     "system.\n"
     "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if "
     "you are using Jemalloc. However this may create fragmentation problems.\n"),
    ("local_disk",
     "- It is strongly advised to use local disks for persistence, especially if you are using "
     "AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n"),
    ("ssd",
     "- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and "
     "AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD "
     "disks can be a good option. However Redis should perform reasonably with high load using "
     "normal disks. Use this advice as a last resort.\n"),
    ("data_writeback",
     "- Mounting ext3/4 filesystems with data=writeback can provide a performance boost "
     "compared to data=ordered, however this mode of operation provides less guarantees, and "
     "sometimes it can happen that after a hard crash the AOF file will have a half-written "
     "command at the end and will require to be repaired before Redis restarts.\n"),
    ("disk_contention",
     "- Try to lower the disk contention. This is often caused by other disk intensive "
     "processes running in the same computer (including other Redis instances).\n"),
    ("no_appendfsync",
     "- Assuming from the point of view of data safety this is viable in your environment, you "
     "could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be "
     "performed while there is a child rewriting the AOF file or producing an RDB file (the "
     "moment where there is high disk contention).\n"),
    ("relax_fsync",
     "- Your fsync policy is set to 'always'. It is very hard to get good performances with "
     "such a setup, if possible try to relax the fsync policy to 'onesec'.\n"),
    ("write_load_info",
     "- Latency during the AOF atomic rename operation or when the final difference is flushed "
     "to the AOF file at the end of the rewrite, sometimes is caused by very high write load, "
     "causing the AOF buffer to get very large. If possible try to send less commands to "
     "accomplish the same work, or use Lua scripts to group multiple operations into a single "
     "EVALSHA call.\n"),
    ("hz",
     "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' "
     "configuration parameter to 100 using 'CONFIG SET hz 100'.\n"),
    ("large_objects",
     "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a "
     "blocking operation. If you have very large objects that are often deleted, expired, or "
     "evicted, try to fragment those objects into multiple smaller objects.\n"),
    ("mass_eviction",
     "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large "
     "objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large "
     "keys migrations (RESTORE command), may create sudden memory pressure forcing the server "
     "to block trying to evict keys. \n"),
    ("disable_thp",
     "- I detected a non zero amount of anonymous huge pages used by your process. This creates "
     "very serious latency events in different conditions, especially when Redis is persisting "
     "on disk. To disable THP support use the command 'echo never > "
     "/sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local "
     "so that the command will be executed again after a reboot. Note that even if you have "
     "already disabled THP, you still need to restart the Redis process to get rid of the huge "
     "pages already created.\n"),
)
